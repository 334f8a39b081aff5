"""``@@messenger-dashboard``: what the delivery side is doing, for admins ("Manage messenger").

Recent posts with their figures, the queues, live workers, paused channels and the jobs that
failed for good, each with a "Retry" button and one "Retry all". Posts the outbox set aside
(waited more than three days for the queue, or unreadable) are listed with "Send anyway" and
"Dismiss". Every action goes by POST with Plone's authenticator. Without Redis the page
still opens and says so.
"""

import logging

import redis
from plone import api
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.statusmessages.interfaces import IStatusMessage
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser import dashboard_budget
from collective.messenger.browser import dashboard_jobs
from collective.messenger.browser.status_labels import channel_title
from collective.messenger.browser.status_labels import format_time
from collective.messenger.browser.status_labels import kind_title
from collective.messenger.browser.status_labels import reason_title
from collective.messenger.browser.status_labels import state_title
from collective.messenger.browser.status_posts import posts_status
from collective.messenger.browser.status_posts import recipients_total
from collective.messenger.publishing import dispatch
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.outbox import STALE
from collective.messenger.redis_client import get_redis
from collective.messenger.settings.status import delivery_health
from messenger_worker.connection import display_url
from messenger_worker.payload import PayloadError

logger = logging.getLogger("collective.messenger.dashboard")

RECENT_POSTS = 20


def recent_entries(limit=RECENT_POSTS):
    box = get_outbox(create=False)  # a GET must not write: no outbox yet, no posts
    return box.recent(limit) if box is not None else []


def set_aside_entries():
    box = get_outbox(create=False)
    return box.needs_attention() if box is not None else []


class DashboardView(BrowserView):
    index = ViewPageTemplateFile("templates/dashboard.pt")

    def __call__(self):
        self.request.response.setHeader("Cache-Control", "private, no-store")
        if self.request.method == "POST":
            CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
            self.handle_retry(self.request.form)
            self.request.response.redirect(self.url(), status=303)
            return ""
        self.health = delivery_health()
        return self.index()

    def url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-dashboard"

    def controlpanel_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-controlpanel"

    def erase_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-erase"

    # -- retrying ---------------------------------------------------------------------------

    def handle_retry(self, form):
        messages = IStatusMessage(self.request)
        user = api.user.get_current().getId()
        try:
            connection = get_redis()
            if "form.buttons.retry_all" in form:
                count = dashboard_jobs.retry_all(connection)
                logger.info(
                    "%s put %d failed messenger jobs back on their queues", user, count
                )
                messages.addStatusMessage(
                    _(
                        "info_jobs_retried",
                        default="Failed jobs put back on their queues: ${count}.",
                        mapping={"count": count},
                    ),
                    "info",
                )
            elif "form.buttons.retry" in form:
                job_id = form.get("job_id")
                if dashboard_jobs.retry_job(connection, job_id):
                    logger.info(
                        "%s put failed messenger job %s back on its queue", user, job_id
                    )
                    messages.addStatusMessage(
                        _(
                            "info_job_retried",
                            default="The job ${id} is back on its queue.",
                            mapping={"id": job_id},
                        ),
                        "info",
                    )
                else:
                    messages.addStatusMessage(
                        _(
                            "warning_job_not_failed",
                            default="This job is not in the list of failed jobs (any more): "
                            "it was retried already or has expired.",
                        ),
                        "warning",
                    )
            elif (
                "form.buttons.send_set_aside" in form
                or "form.buttons.dismiss_set_aside" in form
            ):
                self.handle_set_aside(form, messages, user)
            else:
                messages.addStatusMessage(
                    _("error_unknown_action", default="Unknown action."), "error"
                )
        except redis.RedisError as error:
            messages.addStatusMessage(
                _(
                    "error_retry_redis",
                    default="Nothing was retried: Redis at ${url} is not reachable (${error}).",
                    mapping={"url": display_url(), "error": str(error)},
                ),
                "error",
            )

    def handle_set_aside(self, form, messages, user):
        """ "Send anyway" or "Dismiss" for a post the outbox set aside. Raises RedisError."""
        post_id = form.get("post_id")
        box = get_outbox(create=False)
        entry = (
            box.get(post_id) if box is not None and isinstance(post_id, str) else None
        )
        title = (entry.title or post_id) if entry is not None else ""
        try:
            if "form.buttons.send_set_aside" in form:
                done = dispatch.retry_set_aside(post_id)
                message = _(
                    "info_set_aside_sent",
                    default="“${title}” was handed to the delivery queue; recipients: ${count}.",
                    mapping={
                        "title": title,
                        "count": recipients_total(done) if done else 0,
                    },
                )
                action = "sent anyway"
            else:
                done = dispatch.dismiss_set_aside(post_id)
                message = _(
                    "info_set_aside_dismissed",
                    default="“${title}” stays unsent and is no longer listed.",
                    mapping={"title": title},
                )
                action = "dismissed"
        except dispatch.NotSendable as error:
            messages.addStatusMessage(error.message, "error")
            return
        except PayloadError as error:
            logger.warning(
                "%s tried to send post %s set aside; still unreadable: %s",
                user,
                post_id,
                error,
            )
            messages.addStatusMessage(
                _(
                    "error_set_aside_unreadable",
                    default="“${title}” still cannot be read, so nothing was sent "
                    "(${error}). Dismiss it and publish the item again with “Send again”.",
                    mapping={"title": title, "error": str(error)},
                ),
                "error",
            )
            return
        if done is None:
            messages.addStatusMessage(
                _(
                    "warning_set_aside_gone",
                    default="This post is not waiting for a decision (any more).",
                ),
                "warning",
            )
            return
        logger.info("%s %s messenger post %s that was set aside", user, action, post_id)
        messages.addStatusMessage(message, "info")

    # -- for the template -------------------------------------------------------------------

    def t(self, message):
        return translate(message, context=self.request)

    def redis_url(self):
        return display_url()

    def code_budget(self):
        return dashboard_budget.code_budget_rows(self.request)

    def replies_waiting(self):
        return dashboard_budget.replies_waiting()

    def failed(self):
        """(jobs shown, all failed jobs) or None without Redis."""
        if not self.health.get("reachable"):
            return None
        try:
            connection = get_redis()
            return dashboard_jobs.failed_jobs(connection), dashboard_jobs.failed_count(
                connection
            )
        except redis.RedisError:
            return None

    def failed_rows(self):
        found = self.failed()
        if found is None:
            return None
        jobs, total = found
        return {
            "total": total,
            "jobs": [
                {
                    "id": job.id,
                    "queue": job.queue,
                    "description": job.description,
                    "error": job.error,
                    "ended_at": format_time(job.ended_at, self.request),
                }
                for job in jobs
            ],
        }

    def paused(self):
        return [
            {
                "id": channel,
                "title": channel_title(channel, self.request),
                "reason": record.get("reason", ""),
                "since": format_time(record.get("since"), self.request),
            }
            for channel, record in sorted((self.health.get("paused") or {}).items())
        ]

    def set_aside(self):
        """Posts the outbox set aside, with why, for "Send anyway" and "Dismiss"."""
        catalog = api.portal.get_tool("portal_catalog")
        rows = []
        for entry in set_aside_entries():
            brains = catalog.unrestrictedSearchResults(UID=entry.content_uid)
            if entry.reason == STALE:
                why = _(
                    "set_aside_stale",
                    default="It waited more than three days for the delivery queue (due ${due}). "
                    "It is not sent on its own, as it may be old news.",
                    mapping={"due": format_time(entry.due, self.request)},
                )
            else:
                why = _(
                    "set_aside_unreadable",
                    default="Its stored message cannot be read: ${error}",
                    mapping={"error": entry.error or entry.reason},
                )
            rows.append({
                "post_id": entry.post_id,
                "title": entry.title or entry.post_id,
                "url": brains[0].getURL() if brains else entry.url,
                "kind_title": self.t(kind_title(entry.kind)),
                "created_text": format_time(entry.created, self.request),
                "why": self.t(why),
            })
        return rows

    def posts(self):
        entries = recent_entries()
        catalog = api.portal.get_tool("portal_catalog")
        rows = []
        for entry, status in zip(entries, posts_status(entries)):
            brains = catalog.unrestrictedSearchResults(UID=entry.content_uid)
            rows.append({
                **status,
                "title": entry.title,
                "url": brains[0].getURL() if brains else entry.url,
                "kind_title": self.t(kind_title(entry.kind)),
                "state_title": self.t(state_title(status)),
                "reason": self.t(reason_title(status["reason"]))
                if status["reason"]
                else "",
                "created_text": format_time(entry.created, self.request),
                "due_text": format_time(entry.due, self.request),
                "percent": int(round(status["progress"] * 100)),
                "channel_rows": [
                    {
                        "id": channel,
                        "title": channel_title(channel, self.request),
                        **figures,
                    }
                    for channel, figures in status["channels"].items()
                ],
            })
        return rows
