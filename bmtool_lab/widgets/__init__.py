"""anywidget classes and dashboard composition."""
