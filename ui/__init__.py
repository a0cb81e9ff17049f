"""The eka chat: a Streamlit app that talks to the answer service over HTTP only (``eka ui``)."""
