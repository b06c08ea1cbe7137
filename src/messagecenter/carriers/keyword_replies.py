"""The automatic replies carriers send to keywords (Twilio's default texts).

Where the carrier answers keywords itself these appear in the thread as carrier entries; where
it does not, the app sends the same confirmations (and the business's own help text).
"""

from __future__ import annotations

from messagecenter.sms.keywords import Keyword

OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from "
    "this number. Reply START to resubscribe."
)
OPT_IN_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for "
    "help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)
HELP_REPLY = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."

REPLIES = {Keyword.OPT_OUT: OPT_OUT_REPLY, Keyword.OPT_IN: OPT_IN_REPLY, Keyword.HELP: HELP_REPLY}


def app_help_reply(business_name: str, help_text: str | None) -> str:
    """The help text the app sends itself where the carrier does not answer HELP."""
    own = (help_text or "").strip()
    intro = own if own else f"{business_name}: reply to this number to reach us."
    return f"{intro} Reply STOP to unsubscribe. Msg&Data Rates May Apply."
