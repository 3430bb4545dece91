"""Chinese OCR studio: `streamlit run app.py`.

The pages (Recognize, Document, CTC inspector, Benchmark) share the sidebar drawn here: engine, decoder,
beam width and LM weight. Models load once per process (ui.resources); pages hold UI only.
"""

import streamlit as st

from ui.sidebar import keep_page_state, render_sidebar

st.set_page_config(page_title="Chinese OCR studio", page_icon="🀄", layout="wide")

# url_path differs from each file's stem on purpose: Streamlit's legacy `pages/` mode (active on a
# fresh server until st.navigation runs once) would otherwise match a page URL to the bare page file
# and run it without this script (see ui.sidebar.ensure_navigation).
PAGES = [
    st.Page("pages/recognize.py", title="Recognize", icon=":material/text_fields:", url_path="read",
            default=True),
    st.Page("pages/document.py", title="Document", icon=":material/description:", url_path="page"),
    st.Page("pages/inspector.py", title="CTC inspector", icon=":material/grid_on:", url_path="ctc"),
    st.Page("pages/benchmark.py", title="Benchmark", icon=":material/speed:", url_path="bench"),
]

page = st.navigation(PAGES)
keep_page_state()
render_sidebar()
page.run()
