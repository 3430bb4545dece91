"""Chinese OCR studio: `streamlit run app.py`.

The pages (Recognize, Document, CTC inspector, Benchmark, Fine-tune) share the sidebar and the header
drawn here, after the page, into places kept for them: engine, decoder, beam width and LM weight; what
the studio is, and one-click examples.
Models load once per process (ui.resources); pages hold UI only.
"""

from collections.abc import Callable

import streamlit as st

from ui.current import keep_current
from ui.header import follow_example, render_header
from ui.sidebar import keep_page_state, render_sidebar

st.set_page_config(page_title="Chinese OCR studio", page_icon="🀄", layout="wide")

# Each url_path is its file's stem: on a fresh server Streamlit's legacy `pages/` mode serves the first
# request until st.navigation has run once, and it only knows the stems; the page file then reruns
# through this script (ui.sidebar.ensure_navigation), which finds the same name here. Any other path
# there would greet a shared link with "Page not found".
PAGES = [
    st.Page("pages/recognize.py", title="Recognize", icon=":material/text_fields:", url_path="read",
            default=True),  # the default page lives at "/"; /recognize and /read are aliases below
    st.Page("pages/document.py", title="Document", icon=":material/description:", url_path="document"),
    st.Page("pages/inspector.py", title="CTC inspector", icon=":material/grid_on:", url_path="inspector"),
    st.Page("pages/benchmark.py", title="Benchmark", icon=":material/speed:", url_path="benchmark"),
    st.Page("pages/finetune.py", title="Fine-tune", icon=":material/model_training:", url_path="finetune"),
]
# Hidden pages that switch to the real one: /recognize (the default page is served at "/"), and the
# earlier short paths.
ALIASES = {"recognize": "pages/recognize.py", "page": "pages/document.py", "ctc": "pages/inspector.py",
           "bench": "pages/benchmark.py", "tune": "pages/finetune.py"}


def _alias(target: str) -> Callable[[], None]:
    def go() -> None:
        st.switch_page(target)

    go.__name__ = f"alias_{target.split('/')[-1].removesuffix('.py')}"
    return go


page = st.navigation([*PAGES, *(st.Page(_alias(t), title=a, url_path=a, visibility="hidden")
                                for a, t in ALIASES.items())])
keep_page_state()
keep_current()
follow_example()
# The page first, then the header (into its place at the top) and the sidebar: the browser paints a
# page's text as soon as it has it, but the widgets' code loads on first use and holds the first paint
# back while it does (ui/paint.py has the measurement).
header = st.container()
page.run()
with header:
    render_header()
render_sidebar()
