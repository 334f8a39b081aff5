"""The add-on's errors that carry a message for the person who caused them."""


class MessageError(ValueError):
    """Refused input or action; ``message`` (translatable) says why, for a page or an answer."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message
