"""An offline text corpus for synthetic lines: jieba-dictionary sentences, rare characters, numbers,
dates and amounts (incl. 大写 via amount_upper), IDs, phone numbers, Latin words and mixed lines."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial
from typing import TypeVar

import numpy as np

from ocr.charset import Charset, gb2312_chars, jieba_words, load_charset

__all__ = ["Corpus", "amount_upper"]

_T = TypeVar("_T")


_DIGITS_UPPER = "零壹贰叁肆伍陆柒捌玖"
_UNITS_UPPER = ["", "拾", "佰", "仟"]
_DIGITS_LOWER = "〇一二三四五六七八九"
_LATIN_WORDS = (
    "the", "of", "and", "to", "in", "is", "for", "on", "with", "by", "from", "at", "as", "are", "this",
    "that", "be", "or", "not", "you", "your", "we", "our", "all", "new", "more", "data", "system",
    "service", "report", "total", "price", "order", "invoice", "number", "date", "time", "name",
    "address", "phone", "email", "office", "bank", "account", "amount", "payment", "tax", "company",
    "limited", "china", "beijing", "shanghai", "shenzhen", "road", "street", "building", "floor",
    "room", "model", "type", "version", "page", "table", "figure", "note", "item", "unit", "qty",
    "code", "user", "login", "error", "OK", "PDF", "USB", "CPU", "GPU", "API", "HTTP", "WiFi", "iPhone",
    "Android", "Windows", "Linux", "Python", "OCR", "AI", "ID", "VIP", "CEO", "GDP", "LED", "App",
)
_PUNCT_CN = "，。、；：？！"
_PUNCT_EN = ",.;:?!"
_PAIRS_CN = ("“”", "‘’", "（）", "《》", "【】", "「」")
# Prose marks between words: the em-dash pair (twice as often), the ellipsis, typed ASCII dashes, the
# interpunct of transliterated names and the wave dash of ranges. Printed Chinese uses them often; a
# model that never saw "——" reads it as "一一" (real_samples, session 20). Never a single "—": alone it
# looks like 一, and a continuation that drew it read 一 as — 22 times on real_dev.
_PUNCT_PROSE = ("——", "……", "——", "--", "-", "·", "～")
_PAIRS_EN = ('""', "()", "[]")
# Symbols of real documents, forms, tickets and lab reports that the sentences above never draw (measured in
# session 20: 188 of the charset's 293 non-Han classes appeared in none of 36,000 rendered training lines).
_ENUM_MARKS = ("①②③④⑤⑥⑦⑧⑨⑩", "⑴⑵⑶", "⑾⑿⒀⒁⒂⒃⒄⒅⒆", "ⅠⅡⅢⅣ")
_BULLETS = "●○■□◆◇★☆▲△◎※•→←↑↓♂♀⒉"
_BRACKETS = ("〈〉", "『』", "〔〕", "〖〗", "「」", "【】", "{}", "<>", "＜＞")
_RELATIONS = ("±", "×", "÷", "≤", "≥", "≠", "<", ">", "=", "＝", "＋", "－", "+", "*", "/", "／", "∶")
_UNIT_MARKS = ("°", "′", "‰", "%", "％", "℃", "Ω", "μ", "mmol/L", "g/L", "×10^9/L", "°C")
_MATH = ("√2", "∞", "α", "β", "Θ", "Λ", "Φ", "Ω", "a∧b", "A∩B", "x∈R", "∵")
_CODE_MARKS = "#&@_|~^`\\'＃＆＠＿｜＊＇．―─━│┅┌┐﹏"
_ACCENTED = ("café", "Café", "résumé", "crème", "Hôtel", "Müller", "à la carte", "piñata", "São Paulo",
             "Zürich", "Gödel", "Dvořák", "fiancée", "naïve", "rôle", "Île")
_PINYIN = ("zhōng", "guó", "rén", "mín", "běi", "jīng", "shàng", "hǎi", "nǐ", "hǎo", "xiè", "xie", "lǜ", "nǚ",
           "yīn", "yuè", "dà", "xué", "tiān", "ān", "mén", "chá", "fàn", "diàn", "huà", "ǹg", "ḿ", "ňg",
           "Ā", "Á", "Ǎ", "À", "Ē", "É", "Ě", "È", "Ō", "Ó", "Ǒ", "Ò", "Ū", "Ú", "Ǔ", "Ù", "Ü", "Ī", "Í",
           "Ǐ", "Ì", "Ê", "Ô", "Â", "ǖ", "ǘ", "ǚ", "ǜ", "ê", "ô", "â", "î", "û", "ń", "ǐ", "ì", "í", "lù",
           "shū", "gǔ", "wǒ", "duō", "bù", "kū", "zuò", "hē", "fú", "pò", "lè", "nián", "sān")
_MONEY = ("€", "£", "§", "¥", "￥", "$", "US$", "HK$")
# Contact and notice lines of ads, shop signs, tickets and forms (Corpus.contact, session 25): a session-22
# probe, still true in session 25, read lower-case `www` as `WWW`, `_` as a space, `*` as 艹 or dropped
# and the `~` of opening hours as `-`, because no other line draws them in these places.
_SYLLABLES = ("zhong", "guo", "bei", "jing", "shang", "hai", "hua", "xin", "tian", "an", "da", "xue", "jia",
              "mei", "li", "ming", "tong", "cheng", "kang", "yuan", "long", "feng", "sheng", "wang", "yun",
              "shi", "ji", "kai", "le", "bao", "jin", "hong", "fu", "ke", "ji", "hui", "mall", "shop", "go")
_TLDS = (".com", ".cn", ".com.cn", ".net", ".org", ".gov.cn", ".edu.cn", ".hk", ".tw", ".cc", ".io")
_CONTACT_LABELS = {
    "web": ("官网", "网址", "网站", "官方网站", "Web", "WEB", "网址 WEBSITE", "Website", "详情请访问",
            "登录"),
    "mail": ("邮箱", "电子邮箱", "E-mail", "Email", "邮箱 E-MAIL", "投稿邮箱", "联系邮箱"),
    "tel": ("客服热线", "服务热线", "咨询电话", "订购热线", "TEL", "Tel", "电话", "热线", "手机",
            "传真 FAX"),
    "hours": ("营业时间", "开放时间", "办公时间", "服务时间", "营业时间 OPEN", "Hours", "入园时间",
              "配送时间"),
    "social": ("微信", "微信号", "QQ", "QQ群", "微博", "公众号", "抖音号"),
}
_RANGE_MARKS = ("~", "～", "-", "—", "－", "至", " - ", " ~ ")
_NOTES = ("带*号为必填项", "*号项目为必填", "标*的为必填项", "*以上价格仅供参考", "*图片仅供参考",
          "*本活动最终解释权归本公司所有", "※请妥善保管此票", "*请以实物为准")

# Receipt and ticket lines (Corpus.receipt, session 26): what shops, restaurants, taxis and ticket machines
# print on thermal or dot-matrix printers.
_RECEIPT_TOTALS = ("合计", "总计", "小计", "应收", "实收", "应付", "实付", "找零", "优惠", "折扣", "金额",
                   "现金", "微信支付", "支付宝", "银联卡", "会员价", "原价", "总金额", "TOTAL", "CASH",
                   "CHANGE", "合计金额", "本单优惠", "应付金额")
_RECEIPT_FIELDS = ("单号", "流水号", "订单号", "小票号", "收银员", "收银机", "POS号", "终端号", "商户号",
                   "门店", "桌号", "台号", "人数", "交易时间", "日期", "时间", "卡号", "会员卡号", "积分",
                   "发票代码", "发票号码", "凭证号", "参考号", "批次号", "授权码", "车号", "上车", "下车",
                   "里程", "等候", "单价", "票号", "座位", "车次", "检票口", "NO.", "DATE", "TIME")
_RECEIPT_UNITS = ("", "", "", "ml", "g", "kg", "L", "瓶", "袋", "盒", "包", "个", "份", "件", "斤", "杯")
_RECEIPT_SHOPS = ("超市", "便利店", "餐厅", "药房", "大药房", "百货", "商行", "酒家", "咖啡", "面馆", "书店",
                  "加油站", "水果店", "烘焙", "茶饮", "停车场")
_RECEIPT_NOTES = ("欢迎光临", "谢谢惠顾", "欢迎再次光临", "谢谢惠顾 欢迎再次光临", "请妥善保管小票",
                  "退换货请凭此小票", "请当面点清找零", "本小票不作报销凭证", "发票请于当月开具",
                  "此票据仅作购物凭证", "顾客联", "商户存根", "持卡人签名", "本人确认以上交易",
                  "同意将其记入本卡账户", "THANK YOU", "Thank you for shopping")

# Care-label and product-label lines (Corpus.label, session 26): the woven labels of clothes and the
# printed labels of food and goods.
_FIBRES = ("棉", "聚酯纤维", "粘纤", "锦纶", "氨纶", "羊毛", "桑蚕丝", "亚麻", "腈纶", "莫代尔", "涤纶",
           "再生纤维素纤维", "COTTON", "POLYESTER", "WOOL", "SPANDEX", "NYLON", "VISCOSE")
_LABEL_PARTS = ("面料", "里料", "主面料", "拼接", "罗纹", "填充物", "成分", "纤维含量", "绒子含量", "充绒量")
_LABEL_STANDARDS = ("GB/T", "GB", "FZ/T", "QB/T", "Q/", "GB/T 2660-", "GB 18401-", "GB 31701-")
_LABEL_CARE = ("不可漂白", "30℃以下水洗", "40℃水温机洗", "低温熨烫", "不可干洗", "悬挂晾干", "反面熨烫",
               "深浅衣物分开洗涤", "不可拧干", "手洗", "可机洗", "平摊晾干", "不可翻转干燥", "常规干洗",
               "DO NOT BLEACH", "HAND WASH COLD", "DRY CLEAN ONLY", "WASH INSIDE OUT", "请勿暴晒",
               "洗涤时请勿浸泡", "首次洗涤可能有轻微掉色属正常现象")
_LABEL_FIELDS = ("品名", "产品名称", "货号", "款号", "型号", "规格", "尺码", "号型", "颜色", "等级", "检验员",
                 "检验", "产地", "生产日期", "保质期", "净含量", "贮存条件", "生产许可证编号", "批号",
                 "商品条码", "执行标准", "安全类别", "制造商", "地址", "电话", "食用方法", "致敏物质提示")
_LABEL_VALUES = ("合格品", "一等品", "优等品", "检验01", "中国", "MADE IN CHINA", "见包装", "12个月",
                 "18个月", "常温避光保存", "阴凉干燥处", "开袋即食", "B类", "A类（婴幼儿用品）",
                 "C类（非直接接触皮肤）", "M 165/88A", "L 170/92A", "XL 175/96A", "均码", "黑色", "米白")
_INGREDIENTS = ("小麦粉", "白砂糖", "植物油", "食用盐", "鸡蛋", "全脂奶粉", "麦芽糖浆", "饮用水", "大豆",
                "食品添加剂（碳酸氢钠、柠檬酸）", "山梨酸钾", "味精", "酱油", "香辛料", "玉米淀粉",
                "乳清粉", "可可粉", "食用香精", "β-胡萝卜素", "维生素C", "蔗糖", "果葡糖浆")


def _pick(rng: np.random.Generator, seq: Sequence[_T]) -> _T:
    """One element of `seq`, drawn with `rng` (one integer draw)."""
    return seq[int(rng.integers(len(seq)))]


def _digits(rng: np.random.Generator, n: int) -> str:
    """n random decimal digits (one draw of n integers)."""
    return "".join(str(int(c)) for c in rng.integers(0, 10, n))


def amount_upper(yuan: int, jiao: int = 0, fen: int = 0) -> str:
    """Chinese financial uppercase amount: 1234.5 -> 壹仟贰佰叁拾肆元伍角 (yuan < 10**12)."""

    def four(n: int) -> str:
        s, zero = "", False
        for pos in range(3, -1, -1):
            d = (n // 10**pos) % 10
            if d == 0:
                zero = bool(s)
            else:
                if zero:
                    s += "零"
                    zero = False
                s += _DIGITS_UPPER[d] + _UNITS_UPPER[pos]
        return s

    groups = []  # 4-digit groups, lowest first
    n = yuan
    while n > 0:
        groups.append(n % 10000)
        n //= 10000
    s, gap, prev = "", False, 0
    for g in range(len(groups) - 1, -1, -1):
        q = groups[g]
        if q == 0:
            gap = bool(s)  # a whole zero group between non-zero ones reads as one 零
            continue
        # zeros between the previous non-zero digit and this group's first one read as one 零:
        # the higher group ends in 0, this group starts with 0, or a whole group was skipped
        if s and (gap or q < 1000 or prev % 10 == 0):
            s += "零"
        s += four(q) + ["", "万", "亿"][g]
        gap, prev = False, q
    s = s or "零"
    s += "元"
    if jiao == 0 and fen == 0:
        return s + "整"
    if jiao:
        s += _DIGITS_UPPER[jiao] + "角"
    elif fen:
        s += "零"
    if fen:
        s += _DIGITS_UPPER[fen] + "分"
    return s


@lru_cache(maxsize=1)
def simplified_han() -> frozenset[str]:
    """The 6,763 GB2312 Han characters: the corpus writes simplified text (traditional lines are made
    from it with OpenCC, ocr.training.synth.kinds), even though the charset also holds traditional forms."""
    return frozenset(c for c in gb2312_chars() if "\u4e00" <= c <= "\u9fff")


def _simplified(word: str) -> bool:
    gb = simplified_han()
    return all(c in gb for c in word if "\u4e00" <= c <= "\u9fff")


@lru_cache(maxsize=1)
def _weighted_words() -> tuple[tuple[str, ...], np.ndarray]:
    """(words, cumulative weights) of jieba's dictionary words the charset covers, simplified only,
    weights = freq ** 0.5 (flattens the head). Built once per process (0.5 s) and shared by every Corpus:
    the weights are read-only."""
    cs = load_charset()
    words, weights = [], []
    for word, freq in jieba_words():
        if not cs.covers(word) or not word.strip() or not _simplified(word):
            continue
        words.append(word)
        weights.append(freq ** 0.5)
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    cum = cum / cum[-1]
    cum.flags.writeable = False
    return tuple(words), cum


class Corpus:
    """Random text lines from an offline mix: jieba-dictionary sentences, uniform rare characters,
    numbers/dates/amounts (incl. 大写), IDs, phone numbers, Latin words and mixed lines.

    Every line uses only charset characters. Deterministic for the Generator passed to `line`.
    """

    def __init__(self, charset: Charset | None = None, prose: float = 0.0) -> None:
        """prose: chance, after each word of a sentence, of a prose mark (_PUNCT_PROSE). 0 (the default)
        draws nothing extra, so every line of a given seed stays as it was (the held-out sets)."""
        if not 0.0 <= prose < 1.0:
            raise ValueError(f"prose must be in [0, 1), not {prose}")
        self.prose = prose
        self.charset = charset or load_charset()
        self.words, self._cum = _weighted_words()
        gb = simplified_han()
        self.han = [c for c in self.charset.chars[1:] if c in gb]

    def _word(self, rng: np.random.Generator) -> str:
        return self.words[int(np.searchsorted(self._cum, rng.random()))]

    def sentence(self, rng: np.random.Generator, n_chars: int) -> str:
        """Jieba words sampled by frequency, with Chinese punctuation, about `n_chars` long."""
        out = ""
        pairs = None
        while len(out) < n_chars:
            out += self._word(rng)
            if self.prose and len(out) < n_chars - 3 and rng.random() < self.prose:
                out += _PUNCT_PROSE[int(rng.integers(len(_PUNCT_PROSE)))]
                continue
            r = rng.random()
            if r < 0.12 and len(out) < n_chars - 2:
                out += _PUNCT_CN[int(rng.integers(0, 3))]
            elif r < 0.15 and pairs is None and len(out) < n_chars - 4:
                pairs = _PAIRS_CN[int(rng.integers(len(_PAIRS_CN)))]
                out += pairs[0]
            elif r < 0.25 and pairs is not None:
                out += pairs[1]
                pairs = None
        out = out[:n_chars]
        if pairs is not None and pairs[0] in out and len(out) > 2:
            out = out[:-1] + pairs[1]
        if rng.random() < 0.3 and len(out) > 3:
            out = out[:-1] + _PUNCT_CN[int(rng.integers(len(_PUNCT_CN)))]
        return out

    def rare(self, rng: np.random.Generator, n_chars: int) -> str:
        """Uniformly drawn Han characters (teaches classes that the word list rarely shows)."""
        return "".join(self.han[int(i)] for i in rng.integers(0, len(self.han), n_chars))

    def number(self, rng: np.random.Generator) -> str:
        """A date, amount, phone, ID, time, percentage or code."""
        k = int(rng.integers(0, 11))
        y, m, d = int(rng.integers(1950, 2040)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        if k == 0:
            return f"{y}年{m}月{d}日"
        if k == 1:
            return f"{y}-{m:02d}-{d:02d}" if rng.random() < 0.5 else f"{y}/{m}/{d}"
        if k == 2:
            return "".join(_DIGITS_LOWER[int(c)] for c in str(y)) + "年" + f"{m}月"
        if k == 3:
            v = int(rng.integers(1, 10 ** int(rng.integers(2, 9))))
            return amount_upper(v, int(rng.integers(0, 10)) * (rng.random() < 0.4),
                                int(rng.integers(0, 10)) * (rng.random() < 0.3))
        if k == 4:
            v = rng.integers(1, 10**7) / 100
            return ("￥" if rng.random() < 0.5 else "¥" if rng.random() < 0.5 else "") + f"{v:,.2f}"
        if k == 5:
            return "1" + _digits(rng, 10)
        if k == 6:
            a = _digits(rng, 17)
            return a + ("X" if rng.random() < 0.2 else str(int(rng.integers(0, 10))))
        if k == 7:
            return f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
        if k == 8:
            return f"{rng.random() * 100:.1f}%"
        if k == 9:
            return f"0{int(rng.integers(10, 999))}-{int(rng.integers(1000000, 99999999))}"
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        return "".join(letters[int(i)] for i in rng.integers(0, len(letters), int(rng.integers(1, 4)))) + str(
            int(rng.integers(100, 10**6))
        )

    def symbolic(self, rng: np.random.Generator, n_chars: int) -> str:
        """A line built around the symbols real documents carry and the other lines never draw:
        enumerations (①, ⑴, Ⅱ), bullets and arrows, relations and units of measured values (±, ×, ≤,
        ‰, °), Greek and math marks, code-like ASCII (@, #, _, |, ~), accented Latin and tone-marked
        pinyin, currencies, rules and brackets. Only charset characters; about `n_chars` long."""

        pick = partial(_pick, rng)

        def words(k: int) -> str:  # a sentence of about k characters
            return self.sentence(rng, max(2, k))

        def v() -> str:  # a measured value
            return f"{rng.uniform(0, 500):.{int(rng.integers(0, 3))}f}"

        k = int(rng.integers(0, 9))
        if k == 0:  # an enumerated item
            head = pick(pick(_ENUM_MARKS)) if rng.random() < 0.85 else f"№{int(rng.integers(1, 99999))}"
            s = head + pick(("", "、", ".", " ")) + words(n_chars - 2)
        elif k == 1:  # a bulleted or arrowed item
            s = pick(_BULLETS) + pick(("", " ")) + words(n_chars - 2)
            if rng.random() < 0.3:
                s += pick(_BULLETS)
        elif k == 2:  # a measured value
            s = words(int(rng.integers(2, 7))) + pick(("：", ":", " ")) + v() + pick(_RELATIONS) + v()
            s += pick(_UNIT_MARKS) if rng.random() < 0.7 else ""
        elif k == 3:  # a range or a comparison
            s = words(int(rng.integers(2, 6))) + pick(("≤", "≥", "<", ">", "＜", "＞")) + v()
            s += pick(_UNIT_MARKS)
        elif k == 4:  # code-like fields: e-mail, tag, path, key=value
            w = [pick(_LATIN_WORDS).lower() for _ in range(3)]
            s = pick((f"{w[0]}@{w[1]}.com", f"#{words(4)}#", f"{w[0]}_{w[1]}|{w[2]}", f"{w[0]}={v()}",
                      f"~/{w[0]}/{w[1]}", f"{w[0]}&{w[1]}", f"{w[0]}^{int(rng.integers(2, 9))}",
                      f"`{w[0]}`", f"{w[0]}\\{w[1]}", f"'{w[0]}'", f"＃{int(rng.integers(1, 999))}"))
            if rng.random() < 0.5:
                s = words(int(rng.integers(2, 6))) + pick(("：", " ")) + s
        elif k == 5:  # a bracketed title or note
            a, b = pick(_BRACKETS)
            s = a + words(int(rng.integers(2, 9))) + b
            s += words(int(rng.integers(0, 6))) if rng.random() < 0.5 else ""
        elif k == 6:  # accented Latin or tone-marked pinyin
            if rng.random() < 0.5:
                s = " ".join(pick(_PINYIN) for _ in range(int(rng.integers(1, 5))))
            else:
                s = pick(_ACCENTED)
            if rng.random() < 0.5:
                s = words(int(rng.integers(2, 6))) + pick(("（", "(", " ")) + s + pick(("）", ")", ""))
        elif k == 7:  # money, math and Greek
            s = pick((pick(_MONEY) + f"{rng.uniform(1, 9999):,.2f}", pick(_MATH),
                      f"{pick(_MATH)}{pick(_RELATIONS)}{v()}"))
            if rng.random() < 0.6:
                s = words(int(rng.integers(2, 6))) + pick(("：", " ")) + s
        else:  # rules and separators between fields
            mark = pick(_CODE_MARKS)
            s = pick((mark * int(rng.integers(2, 8)), f"{words(3)}{mark}{words(3)}",
                      f"{mark}{words(4)}{mark}"))
        s = "".join(c for c in s if self.charset.covers(c)).strip()
        return s[: max(n_chars, 4) + 8] or self.sentence(rng, max(n_chars, 1))

    def contact(self, rng: np.random.Generator) -> str:
        """A contact or notice line of an ad, sign, ticket or form: a web address (mostly lower case), an
        e-mail (with `_` or `.`), a hotline, opening hours with a range mark (~, ～, -, 至), a social
        account, or a starred footnote. Only charset characters."""

        pick = partial(_pick, rng)

        def name(k: int) -> str:  # a domain-like name of k parts
            return "".join(pick(_SYLLABLES) if rng.random() < 0.7 else pick(_LATIN_WORDS).lower()
                           for _ in range(k))

        digits = partial(_digits, rng)

        k = int(rng.integers(0, 6))
        sep = pick(("：", ":", " ", "：", ""))
        if k == 0:  # a web address
            host = name(int(rng.integers(1, 4))) + pick(_TLDS)
            url = pick((f"www.{host}", f"www.{host}", f"http://www.{host}", f"https://{host}", host,
                        f"https://www.{host}/{name(1)}", f"{name(1)}.{host}", f"http://{host}/{name(1)}.html"))
            s = pick(_CONTACT_LABELS["web"]) + sep + url if rng.random() < 0.7 else url
            if rng.random() < 0.1:
                s = s.upper()
        elif k == 1:  # an e-mail address
            user = pick((name(1), name(2), f"{name(1)}_{name(1)}", f"{name(1)}.{name(1)}",
                         f"{name(1)}{digits(3)}", digits(int(rng.integers(6, 11)))))
            domain = pick((name(1) + pick(_TLDS), "qq.com", "163.com"))
            s = pick(_CONTACT_LABELS["mail"]) + sep + f"{user}@{domain}"
        elif k == 2:  # a hotline or phone number
            num = pick((f"400-{digits(3)}-{digits(4)}", f"800-{digits(3)}-{digits(4)}",
                        f"0{digits(2)}-{digits(8)}", f"(0{digits(2)}){digits(8)}",
                        f"0{digits(3)}-{digits(7)}", f"1{digits(2)} {digits(4)} {digits(4)}",
                        f"1{digits(10)}", f"+86 1{digits(10)}"))
            s = pick(_CONTACT_LABELS["tel"]) + sep + num
        elif k == 3:  # opening hours
            h1, h2 = int(rng.integers(6, 12)), int(rng.integers(12, 24))
            m1, m2 = pick(("00", "30")), pick(("00", "30"))
            hours = f"{h1}:{m1}{pick(_RANGE_MARKS)}{h2}:{m2}"
            if rng.random() < 0.4:
                days = pick(("周一至周五", "周一~周日", "周一～周六", "每天", "全年无休", "节假日"))
                hours = days + pick((" ", "", "：")) + hours
            s = pick(_CONTACT_LABELS["hours"]) + sep + hours if rng.random() < 0.8 else hours
        elif k == 4:  # a social account
            s = pick(_CONTACT_LABELS["social"]) + sep + pick((name(2), f"{name(1)}_{digits(3)}",
                                                              digits(int(rng.integers(6, 11))),
                                                              self.sentence(rng, int(rng.integers(2, 7)))))
        else:  # a starred footnote
            s = pick(_NOTES) if rng.random() < 0.6 else (
                pick(("*", "＊", "※", "注：", "注：*")) + self.sentence(rng, int(rng.integers(4, 14))))
            if rng.random() < 0.2:
                s = pick(("注：", "备注：", "温馨提示：")) + s
        s = "".join(c for c in s if self.charset.covers(c)).strip()
        return s or self.sentence(rng, 6)

    def receipt(self, rng: np.random.Generator) -> str:
        """A line of a shop receipt or a printed ticket: an item with quantity, price and amount, a total
        or payment, a field (order number, cashier, time, masked card number, trip), the shop's name, or a
        printed note. Only charset characters."""
        pick = partial(_pick, rng)

        def money(hi: float) -> str:
            return f"{rng.uniform(0.1, hi):.2f}"

        digits = partial(_digits, rng)

        sep = pick(("：", ":", " ", "："))
        k = int(rng.integers(0, 8))
        if k <= 2:  # an item: name, spec, quantity, unit price, amount
            item = self.sentence(rng, int(rng.integers(2, 8)))
            unit = pick(_RECEIPT_UNITS)
            if unit and rng.random() < 0.6:
                item += f"{pick((250, 330, 500, 550, 1, 2, 5, 100, 200))}{unit}"
            qty = pick((lambda: str(int(rng.integers(1, 6))), lambda: f"x{int(rng.integers(1, 6))}",
                        lambda: f"{rng.uniform(0.1, 3):.3f}"))()
            price = money(99)
            parts = pick((lambda: (item, qty, price, money(300)),
                          lambda: (item, price),
                          lambda: (item, qty, money(300)),
                          lambda: (digits(int(rng.integers(4, 14))), item, price)))()
            s = " ".join(parts)
        elif k == 3:  # a total or a payment
            s = pick(_RECEIPT_TOTALS) + sep + pick(("¥", "￥", "RMB", "", "")) + money(2000)
        elif k <= 5:  # a field
            field = pick(_RECEIPT_FIELDS)
            y, m, d = int(rng.integers(2015, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
            hms = (f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:"
                   f"{int(rng.integers(0, 60)):02d}")

            def seat() -> str:  # a train seat: coach, row, letter
                return f"{int(rng.integers(1, 30))}车{int(rng.integers(1, 20))}排{pick('ABCDF')}座"

            value = pick((lambda: digits(int(rng.integers(4, 20))),
                          lambda: f"{y}-{m:02d}-{d:02d} {hms}",
                          lambda: f"{y}/{m:02d}/{d:02d}",
                          lambda: hms[:5],
                          lambda: f"{digits(6)}******{digits(4)}",  # a masked card number
                          lambda: f"{digits(4)} **** **** {digits(4)}",
                          lambda: f"{rng.uniform(0.5, 60):.1f}km",
                          seat,
                          lambda: pick(("001", "002", "张三", "A01")) + digits(2)))()
            s = field + sep + value
        elif k == 6:  # the shop's name
            s = self.sentence(rng, int(rng.integers(2, 6))) + pick(_RECEIPT_SHOPS)
            if rng.random() < 0.3:
                s += pick(("(", "（")) + self.sentence(rng, 2) + pick(("店)", "店）"))
        else:  # a printed note
            s = pick(_RECEIPT_NOTES)
        s = "".join(c for c in s if self.charset.covers(c)).strip()
        return s or self.sentence(rng, 6)

    def label(self, rng: np.random.Generator) -> str:
        """A line of a clothing care label or a product label: fibre content, a standard's number, a care
        instruction, a field with its value (size, grade, dates, shelf life, licence number) or an
        ingredient list. Only charset characters."""
        pick = partial(_pick, rng)

        digits = partial(_digits, rng)

        sep = pick(("：", ":", " ", "："))
        k = int(rng.integers(0, 6))
        if k == 0:  # fibre content
            a = int(rng.integers(5, 96))
            parts = [f"{a}%{pick(_FIBRES)}", f"{100 - a}%{pick(_FIBRES)}"] if rng.random() < 0.6 else \
                [f"100%{pick(_FIBRES)}"]
            s = pick(_LABEL_PARTS) + sep + " ".join(parts) if rng.random() < 0.8 else " ".join(parts)
        elif k == 1:  # a standard
            std = pick(_LABEL_STANDARDS)
            year = str(int(rng.integers(2005, 2025)))
            num = std + year if std.endswith("-") else f"{std} {digits(int(rng.integers(4, 6)))}-{year}"
            s = pick(("执行标准", "产品标准", "标准号", "产品标准号", "安全技术类别")) + sep + num
        elif k == 2:  # care instructions
            s = pick(("", "", "洗涤说明：", "洗涤方法：", "注意事项：")) + "，".join(
                pick(_LABEL_CARE) for _ in range(int(rng.integers(1, 4))))
        elif k == 3:  # a field
            field = pick(_LABEL_FIELDS)
            y, m, d = int(rng.integers(2015, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
            value = pick((lambda: pick(_LABEL_VALUES),
                          lambda: f"{y}-{m:02d}-{d:02d}",
                          lambda: f"{y}年{m}月{d}日",
                          lambda: f"{y}{m:02d}{d:02d}",
                          lambda: f"SC{digits(14)}",  # a food production licence
                          lambda: f"69{digits(11)}",  # a barcode number
                          lambda: f"{int(rng.integers(50, 1000))}g",
                          lambda: f"{int(rng.integers(100, 2000))}mL",
                          lambda: pick("ABCDEFGHJKMNPRSTWXYZ") + digits(6),
                          lambda: self.sentence(rng, int(rng.integers(2, 9)))))()
            s = field + sep + value
        elif k == 4:  # ingredients
            n = int(rng.integers(2, 6))
            items = "、".join(pick(_INGREDIENTS) for _ in range(n))
            s = pick(("配料：", "配料表：", "原料：", "配料:")) + items
        else:  # English care and origin lines
            s = pick(("MADE IN CHINA", "DRY CLEAN ONLY", "Do not bleach", "Tumble dry low", "Iron low heat",
                      "Machine wash cold", f"SIZE {pick(('S', 'M', 'L', 'XL', 'XXL'))}",
                      f"RN {digits(5)}", f"CA {digits(5)}", f"STYLE NO. {digits(6)}"))
        s = "".join(c for c in s if self.charset.covers(c)).strip()
        return s or self.sentence(rng, 6)

    def latin(self, rng: np.random.Generator, n_words: int) -> str:
        """Latin words with ASCII punctuation."""
        words = [_LATIN_WORDS[int(i)] for i in rng.integers(0, len(_LATIN_WORDS), n_words)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        s = " ".join(words)
        if rng.random() < 0.3:
            s += _PUNCT_EN[int(rng.integers(len(_PUNCT_EN)))]
        if rng.random() < 0.15:
            p = _PAIRS_EN[int(rng.integers(len(_PAIRS_EN)))]
            s = p[0] + s + p[1]
        return s

    def line(self, rng: np.random.Generator, min_len: int = 1, max_len: int = 24) -> str:
        """One line, min_len..max_len characters (lengths skewed short)."""
        n = int(min_len + (max_len - min_len) * rng.random() ** 1.3)
        r = rng.random()
        if r < 0.50:
            s = self.sentence(rng, max(n, 1))
        elif r < 0.60:
            s = self.rare(rng, max(n, 1))
        elif r < 0.72:
            s = self.number(rng)
            if rng.random() < 0.5:
                s = self.sentence(rng, max(n - len(s), 2)) + ("：" if rng.random() < 0.5 else "") + s
        elif r < 0.80:
            s = self.latin(rng, max(1, n // 5))
        else:
            parts = []
            while sum(map(len, parts)) < n:
                q = rng.random()
                parts.append(self.sentence(rng, int(rng.integers(2, 8))) if q < 0.55 else
                             self.number(rng) if q < 0.8 else self.latin(rng, 1))
            s = "".join(parts)
        s = s[:max_len].strip() or self.rare(rng, max(min_len, 1))
        while len(s) < min_len:
            s += self.sentence(rng, min_len - len(s))
        return s[:max_len]
