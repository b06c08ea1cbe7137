"""The automatic replies carriers send to keywords (Twilio's default texts).

Where the carrier answers keywords itself these appear in the thread as carrier entries; where
it does not, the app sends the business's own wording instead (notifications.keyword_answer).
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
