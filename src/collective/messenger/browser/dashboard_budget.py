"""The dashboard's "Replies to citizens" lines: today's confirmation codes against each channel's
daily budget (Threema charges per message) and replies waiting for the queue."""

from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.status_labels import channel_title
from collective.messenger.signup import ratelimit
from collective.messenger.signup.offer import offered_channels
from collective.messenger.signup.reply_outbox import waiting_count


def code_budget_rows(request):
    """One row per offered code channel: {"id", "title", "text", "spent"}."""
    offered = {channel["id"] for channel in offered_channels()}
    rows = []
    for channel in ratelimit.BUDGET_CHANNELS:
        if channel not in offered:
            continue
        budget = ratelimit.code_budget(channel)
        sent = ratelimit.codes_sent_today(channel)
        spent = bool(budget) and sent is not None and sent >= budget
        if sent is None:
            text = _("code_budget_unknown", default="unknown (Redis is not reachable)")
        elif not budget:
            text = _(
                "code_budget_unlimited",
                default="${sent} sent (no daily limit)",
                mapping={"sent": sent},
            )
        elif spent:
            text = _(
                "code_budget_spent",
                default="${sent} of ${budget} sent: used up, code signups are refused until midnight",
                mapping={"sent": sent, "budget": budget},
            )
        else:
            text = _(
                "code_budget_line",
                default="${sent} of ${budget} sent",
                mapping={"sent": sent, "budget": budget},
            )
        rows.append({
            "id": channel,
            "title": channel_title(channel, request),
            "text": translate(text, context=request),
            "spent": spent,
        })
    return rows


def replies_waiting():
    return waiting_count()
