"""Each request starts as nobody, so an error page never shows a traceback to a visitor.

Zope's publisher reads the request's form (``processInputs``) before it forgets the user of
the thread's previous request (``noSecurityManager``). A form value Zope cannot convert
(``?b_start:int=abc``) fails in between, and Plone's error page then asks the *previous*
request's user whether it may show the traceback: after an admin's request, an anonymous
visitor got the full traceback. Forgetting the previous user when the request starts closes
that gap; the user of this request is set by Zope's traversal as before.
"""

from AccessControl.SecurityManagement import noSecurityManager


def forget_previous_user(event):
    """``IPubStart``: no security context is carried over from the thread's last request."""
    noSecurityManager()
