"""Chinese OCR studio: `streamlit run app.py`.

Three pages (Recognize, CTC inspector, Benchmark) share the sidebar drawn here: engine, decoder,
beam width and LM weight. Models load once per process (ui.resources); pages hold UI only.
"""

import streamlit as st

from ui.sidebar import keep_page_state, render_sidebar

st.set_page_config(page_title="Chinese OCR studio", page_icon="🀄", layout="wide")

PAGES = [
    st.Page("pages/recognize.py", title="Recognize", icon=":material/text_fields:", default=True),
    st.Page("pages/inspector.py", title="CTC inspector", icon=":material/grid_on:", url_path="inspector"),
    st.Page("pages/benchmark.py", title="Benchmark", icon=":material/speed:", url_path="benchmark"),
]

page = st.navigation(PAGES)
keep_page_state()
render_sidebar()
page.run()
