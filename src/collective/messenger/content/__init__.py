"""Content types of the add-on: the Construction Notice."""
