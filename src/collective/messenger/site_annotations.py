"""The add-on's persistent objects on the site: annotations, kept when the add-on is uninstalled."""

from plone import api
from zope.annotation.interfaces import IAnnotations


def site_annotation(key, factory, site=None, create=True):
    """The site's annotation ``key``; made with ``factory()`` on first use unless ``create``
    is False (then None: pages that only read must not write)."""
    annotations = IAnnotations(site if site is not None else api.portal.get())
    value = annotations.get(key)
    if value is None and create:
        value = annotations[key] = factory()
    return value
