"""Streamlit-only helpers for the app: cached loaders, the shared sidebar, widgets and plotly figures.

Pages (pages/*.py) hold UI only and call into here; the library (ocr/) never imports streamlit.
"""
