"""collective.messenger: municipal website content to citizens' messengers."""

from zope.i18nmessageid import MessageFactory

PACKAGE_NAME = "collective.messenger"

_ = MessageFactory(PACKAGE_NAME)
