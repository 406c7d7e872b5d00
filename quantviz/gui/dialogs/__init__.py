"""Dialogs of the quantviz app, one per module."""
