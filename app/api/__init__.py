"""HTTP adapters: FastAPI routers that main.py includes in the outer app (outside NiceGUI's session layer)."""
