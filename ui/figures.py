"""Plotly figure builders (pure: arrays/frames in, figures out) for the inspector and the benchmark."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.render import png_data_uri

__all__ = [
    "BUCKET_LABELS",
    "WHISKER_CAPTION",
    "accuracy_latency_figure",
    "cer_by_length_figure",
    "char_label",
    "ctc_figure",
    "engine_colors",
    "hover_columns",
    "latency_figure",
    "top_rows",
]

TRUE_WIDTH_FROM = 1100  # px: a CTC plot wider than this at true proportions gets a fixed width (scrolls)
BUCKET_LABELS = {"1-10": "≤10", "11-30": "11–30", "31-80": "31–80", "81-200": "81–200"}


def char_label(charset: Sequence[str], index: int) -> str:
    """How a class is named on an axis: the blank as '∅ blank', a space as '␠'."""
    if index == 0:
        return "∅ blank"
    ch = charset[index]
    return "␠" if ch == " " else (ch if ch.strip() else repr(ch))


def top_rows(probs: np.ndarray, k: int) -> list[int]:
    """Class indices to show: blank (0) + the top-k non-blank classes by peak probability over time,
    ordered by the timestep of their peak (so the rows read like the text)."""
    peak = probs[:, 1:].max(axis=0)
    k = int(min(max(k, 1), peak.size))
    idx = np.argpartition(-peak, k - 1)[:k] + 1
    when = probs[:, idx].argmax(axis=0)
    order = np.lexsort((-probs[:, idx].max(axis=0), when))
    return [0, *idx[order].tolist()]


def hover_columns(probs: np.ndarray, charset: Sequence[str], n: int = 5) -> list[str]:
    """Per timestep, an HTML hover line with the n most probable classes and their probabilities."""
    n = min(n, probs.shape[1])
    top = np.argpartition(-probs, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(probs, top, axis=1)
    order = np.argsort(-vals, axis=1)
    top = np.take_along_axis(top, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    out = []
    for t in range(probs.shape[0]):
        parts = [f"{html.escape(char_label(charset, int(c)))} {v:.3f}" for c, v in zip(top[t], vals[t],
                                                                                      strict=True)]
        out.append("<br>".join(parts))
    return out


def ctc_figure(
    model_image: np.ndarray,
    logprobs: np.ndarray,
    charset: Sequence[str],
    k: int = 12,
    spans: Sequence[tuple[int, int]] = (),
    span_chars: Sequence[str] = (),
) -> go.Figure:
    """The model input image above a heatmap of per-timestep probabilities on one shared x axis.

    One heatmap column per timestep t (x = t); the image is stretched so that its pixel columns
    [t*W/T, (t+1)*W/T) sit over column t. Rows: blank + top-k classes by peak probability. Hover shows
    the top-5 classes at that timestep. The greedy path (argmax per timestep) is overlaid where its class
    is one of the rows; `spans` (e.g. the best labelling's frame spans) are outlined on the image.
    A line too long to keep its proportions in TRUE_WIDTH_FROM px gets layout.width set (else None).
    """
    probs = np.exp(logprobs.astype(np.float64))
    t_steps = probs.shape[0]
    rows = top_rows(probs, k)
    labels = [char_label(charset, r) for r in rows]
    z = probs[:, rows].T
    hover = np.array(hover_columns(probs, charset), dtype=object)
    row_names = np.array([html.escape(lab) for lab in labels], dtype=object)
    customdata = np.stack([np.tile(hover, (len(rows), 1)),
                           np.repeat(row_names[:, None], t_steps, axis=1)], axis=-1)

    height_px, width_px = model_image.shape[:2]
    image_rows_px = 110
    heat_px = max(220, 22 * len(rows))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[image_rows_px, heat_px])
    dx = t_steps / max(width_px, 1)
    fig.add_trace(go.Image(source=png_data_uri(model_image), x0=-0.5 + dx / 2, dx=dx,
                           y0=0, dy=1, hoverinfo="skip", name="model input"), row=1, col=1)
    # Spans as plain layout dicts in one update: fig.add_vrect/add_annotation cost ~20 ms each.
    shapes = [dict(type="rect", xref="x", yref="y", x0=s - 0.5, x1=e - 0.5, y0=-0.5, y1=height_px - 0.5,
                   line=dict(width=1, color="#c0392b"), fillcolor="rgba(0,0,0,0)")
              for s, e in spans]
    notes = [dict(xref="x", yref="y", x=(s + e - 1) / 2, y=-0.5, yanchor="bottom", text=html.escape(ch),
                  showarrow=False, font=dict(color="#c0392b", size=13))
             for (s, e), ch in zip(spans, span_chars, strict=False)]
    fig.add_trace(go.Heatmap(
        z=z, x=np.arange(t_steps), y=np.arange(len(rows)), zmin=0.0, zmax=1.0, colorscale="Blues",
        customdata=customdata, name="probability",
        hovertemplate="t=%{x}<br>%{customdata[1]}: p=%{z:.3f}<br><b>top-5</b><br>%{customdata[0]}"
                      "<extra></extra>",
        colorbar=dict(title=dict(text="p"), len=0.7, y=0.35, thickness=12),
    ), row=2, col=1)
    arg = probs.argmax(axis=1)
    row_of = {c: i for i, c in enumerate(rows)}
    gy = [row_of.get(int(c)) for c in arg]
    fig.add_trace(go.Scatter(
        x=np.arange(t_steps), y=gy, mode="lines+markers", name="greedy path",
        marker=dict(size=5, color="#c0392b", line=dict(width=0.5, color="white")),
        line=dict(width=1, color="rgba(192,57,43,0.6)"), connectgaps=False,
        customdata=[html.escape(char_label(charset, int(c))) for c in arg],
        hovertemplate="t=%{x}<br>greedy: %{customdata}<extra></extra>",
    ), row=2, col=1)
    fig.update_yaxes(row=1, col=1, showticklabels=False, ticks="", zeroline=False, scaleanchor=False,
                     showgrid=False, range=[height_px - 0.5, -0.5])
    fig.update_yaxes(row=2, col=1, tickvals=list(range(len(rows))), ticktext=labels, autorange="reversed",
                     tickfont=dict(size=13), title_text="class")
    fig.update_xaxes(range=[-0.5, t_steps - 0.5], showgrid=False)
    fig.update_xaxes(row=2, col=1, title_text=f"timestep t (T = {t_steps})")
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_layout(height=image_rows_px + heat_px + 90, margin=dict(l=10, r=10, t=30, b=40),
                      legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"), hovermode="closest")
    natural = width_px * image_rows_px / max(height_px, 1)  # plot width that keeps the image's proportions
    if natural > TRUE_WIDTH_FROM:
        fig.update_layout(width=int(natural + 160))  # + room for the row labels and the colour bar
    return fig


def engine_colors(engines: Sequence[str]) -> dict[str, str]:
    """One colour per engine, the same in every chart: by the engine's place in the registry (engines
    not registered, e.g. fine-tuned ones, follow in the order given)."""
    from ocr.engines.registry import ENGINES

    order = list(dict.fromkeys([*ENGINES, *engines]))
    palette = px.colors.qualitative.D3
    return {name: palette[order.index(name) % len(palette)] for name in engines}


WHISKER_CAPTION = ("Each point: median (p50) latency per line; its whisker runs from p50 to p95 (no whisker "
                   "to the left: latencies below the median are not drawn).")


def accuracy_latency_figure(summary: pd.DataFrame) -> go.Figure:
    """Line accuracy vs median latency, one point per engine × decoder; a one-sided whisker from p50 to p95
    (see WHISKER_CAPTION). Colours from engine_colors."""
    df = summary.assign(up=(summary["p95_ms"] - summary["p50_ms"]).clip(lower=0), down=0.0)
    colors = engine_colors(list(dict.fromkeys(df["engine"])))
    fig = px.scatter(df, x="p50_ms", y="line_acc", color="engine", symbol="decoder", error_x="up",
                     error_x_minus="down", color_discrete_map=colors,
                     hover_data={"cer": ":.4f", "ned": ":.4f", "p95_ms": ":.1f", "up": False, "down": False},
                     labels={"p50_ms": "median latency per line (ms)", "line_acc": "line accuracy"})
    fig.update_traces(marker=dict(size=13))
    fig.update_yaxes(range=[-0.02, 1.05])
    top = float(np.nanmax(df["p95_ms"])) if len(df) else 1.0
    fig.update_xaxes(range=[0, max(top, 1.0) * 1.12])  # from 0: one run still gets a readable axis
    fig.update_layout(height=380, margin=dict(t=30, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0, title_text=""))
    return fig


def latency_figure(samples: pd.DataFrame) -> go.Figure:
    """Distribution of per-line latency for each engine × decoder (colours from engine_colors)."""
    df = samples.dropna(subset=["ms"])
    colors = engine_colors(list(dict.fromkeys(df["engine"])))
    fig = px.box(df, x="run", y="ms", color="engine", points="outliers", color_discrete_map=colors,
                 labels={"ms": "latency per line (ms)", "run": "engine / decoder"})
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=380, margin=dict(t=30, b=40), showlegend=False)
    return fig


def cer_by_length_figure(buckets: pd.DataFrame) -> go.Figure:
    """Grouped bars of CER per label-length bucket, one group per bucket, one bar per engine × decoder:
    colour = engine (engine_colors), pattern = decoder. Every bar carries its value as text, so a CER of
    0 still shows ("0"); the axis starts at 0 and reaches at least 0.05.

    buckets: columns run, bucket (a BUCKET_LABELS key), cer (None where the bucket is empty), lines.
    """
    df = buckets.dropna(subset=["cer"]).copy()
    df["length"] = df["bucket"].map(BUCKET_LABELS).fillna(df["bucket"])
    split = df["run"].str.split(" / ", n=1, expand=True) if len(df) else None
    df["engine"] = split[0] if split is not None else []
    df["decoder"] = split[1] if split is not None and split.shape[1] > 1 else ""
    df["shown"] = [f"{v:.3f}".rstrip("0").rstrip(".") if v else "0" for v in df["cer"]]
    colors = engine_colors(list(dict.fromkeys(df["engine"])))
    fig = px.bar(df, x="length", y="cer", color="engine", pattern_shape="decoder", barmode="group",
                 text="shown", hover_data=["run", "lines"], color_discrete_map=colors,
                 category_orders={"length": list(BUCKET_LABELS.values())},
                 labels={"cer": "CER", "length": "label length (characters)", "engine": "engine",
                         "decoder": "decoder"})
    fig.update_traces(textposition="outside", cliponaxis=False)
    top = float(df["cer"].max()) if len(df) else 0.0
    fig.update_yaxes(range=[0, max(0.05, top * 1.2)])
    fig.update_layout(height=380, margin=dict(t=30, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0, title_text=""))
    return fig
