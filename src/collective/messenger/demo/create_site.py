"""Create the demo's "Musterstadt" Plone site.

A ``zconsole run`` script: zconsole binds ``app`` (the Zope root, as the system user) and
runs this file as ``__main__``. Importing it does nothing.
"""

SITE_ID = "Musterstadt"
TITLE = "Musterstadt"
LANGUAGE = "de"
TIMEZONE = "Europe/Berlin"
EXTENSION_IDS = [
    "plone.app.contenttypes:plone-content",
    "plonetheme.barceloneta:default",
    "collective.messenger:default",
]


def create_site(app):
    """Add the site unless it exists; returns True when it was created."""
    import transaction
    from Products.CMFPlone.factory import addPloneSite

    if SITE_ID in app.objectIds():
        return False
    addPloneSite(
        app,
        SITE_ID,
        title=TITLE,
        default_language=LANGUAGE,
        portal_timezone=TIMEZONE,
        setup_content=True,
        extension_ids=EXTENSION_IDS,
    )
    transaction.commit()
    return True


def use_berlin_time(app):
    """The site in Europe/Berlin with German date formats, also when an earlier demo made it
    with Plone's defaults (UTC, ISO dates). An admin's own choice is kept."""
    import transaction
    from plone import api
    from zope.component.hooks import site as site_context

    with site_context(app[SITE_ID]):
        if api.portal.get_registry_record("plone.portal_timezone", default=None) in (
            None,
            "",
            "UTC",
        ):
            api.portal.set_registry_record("plone.portal_timezone", TIMEZONE)
            zones = (
                api.portal.get_registry_record(
                    "plone.available_timezones", default=None
                )
                or []
            )
            if TIMEZONE not in zones:
                api.portal.set_registry_record(
                    "plone.available_timezones", [*zones, TIMEZONE]
                )
            api.portal.set_registry_record(
                "plone.first_weekday", 0
            )  # Monday, as in Germany
        use_german_date_formats()
        transaction.commit()


DATE_FORMATS = {
    "date_format_short": "%d.%m.%Y",
    "date_format_long": "%d.%m.%Y %H:%M",
    "time_format": "%H:%M",
}
DATE_FORMAT_RECORD = "Products.CMFPlone.i18nl10n.override_dateformat."


def use_german_date_formats():
    """German dates everywhere, also where Plone formats them without the request's language
    (the event portlet showed "Dec 16, 2026 10:00 AM" on the German site)."""
    from plone import api

    enabled = api.portal.get_registry_record(
        DATE_FORMAT_RECORD + "Enabled", default=None
    )
    short = api.portal.get_registry_record(
        DATE_FORMAT_RECORD + "date_format_short", default=None
    )
    if (
        enabled is False and short == "%Y-%m-%d"
    ):  # Plone's defaults: no admin has chosen yet
        for name, value in DATE_FORMATS.items():
            api.portal.set_registry_record(DATE_FORMAT_RECORD + name, value)
        api.portal.set_registry_record(DATE_FORMAT_RECORD + "Enabled", True)


def heal_sample_dates(app):
    """Events of an earlier demo were made with naive dates, which Plone's event view cannot show."""
    import transaction
    from plone import api
    from zope.component.hooks import site as site_context

    from collective.messenger.demo.content import make_dates_aware

    site = app[SITE_ID]
    with site_context(site), api.env.adopt_user(username="admin"):
        if make_dates_aware(site):
            transaction.commit()


def use_sandbox(app):
    """Point the channels at the demo's sandbox (its port may differ from the last run)."""
    import os

    import transaction
    from zope.component.hooks import site as site_context

    from collective.messenger.demo.sandbox import use_sandbox as point_at_sandbox

    url = os.environ.get("MESSENGER_DEMO_SANDBOX_URL")
    if not url:
        return
    site = app[SITE_ID]
    with site_context(site):
        point_at_sandbox(url, site=site)
    transaction.commit()


PORTLET_ID = "messenger-signup"
PORTLET_HEADER = "Nachrichten aufs Handy"


def assign_signup_portlet(app):
    """The signup portlet in the right column of the whole site (once; an admin may remove it)."""
    import transaction
    from plone.portlets.interfaces import IPortletAssignmentMapping
    from plone.portlets.interfaces import IPortletManager
    from zope.component import getMultiAdapter
    from zope.component import getUtility
    from zope.component.hooks import site as site_context

    from collective.messenger.browser.portlet import Assignment

    site = app[SITE_ID]
    with site_context(site):
        manager = getUtility(IPortletManager, name="plone.rightcolumn", context=site)
        mapping = getMultiAdapter((site, manager), IPortletAssignmentMapping)
        if PORTLET_ID not in mapping:
            mapping[PORTLET_ID] = Assignment(header=PORTLET_HEADER)
    transaction.commit()


def add_samples(app):
    """A few published items, then sample subscribers on the sandbox phones."""
    import transaction
    from plone import api
    from zope.component.hooks import site as site_context

    from collective.messenger.demo.content import add_sample_content
    from collective.messenger.demo.content import add_sample_subscribers

    site = app[SITE_ID]
    with site_context(site), api.env.adopt_user(username="admin"):
        add_sample_content(site)
        transaction.commit()
        add_sample_subscribers(site)
        transaction.commit()


def publish_settings(app):
    """Give the worker the site's settings, also when Redis was emptied since last time."""
    import redis
    from zope.component.hooks import site as site_context

    from collective.messenger.settings.publish import publish_now

    site = app[SITE_ID]
    with site_context(site):
        try:
            return publish_now(site)
        except redis.RedisError as error:
            print(
                f"Could not publish the messenger settings to Redis: {error}",
                flush=True,
            )


if __name__ == "__main__":
    app = globals()["app"]  # bound by zconsole run
    created = create_site(app)
    use_berlin_time(app)
    if not created:
        heal_sample_dates(app)
    use_sandbox(app)
    if created:
        assign_signup_portlet(app)
        add_samples(app)
    publish_settings(app)
    # Closing writes the FileStorage index, so Zope need not rebuild it on start.
    app._p_jar.db().close()
    print(f"Site {SITE_ID} {'created' if created else 'exists'}.", flush=True)
