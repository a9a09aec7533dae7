from django.apps import AppConfig


class NotebooksConfig(AppConfig):
    """An app so that its task and its `render_notebooks` command are found where the notebooks
    are: notebooks sit above metrics, and metrics never imports them."""

    name = "notebooks"
    verbose_name = "Analysis notebooks"
