from zope.publisher.interfaces.browser import IDefaultBrowserLayer


class IMessengerLayer(IDefaultBrowserLayer):
    """Browser layer: views and REST services of the add-on exist only where it is installed."""
