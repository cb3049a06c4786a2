"""What the Gradio app (app.py) uses beside Gradio itself, with no Gradio import: deployment limits,
sessions, checks of what a user sends, the live training view, and the worker processes that
train. Nothing in the library, the CLI or bench imports it.
"""
