"""The notification types every business has: each one's category (whose client switch it
obeys), the variables its template may use, and its default wording.

The defaults name the business first (a first message must) and never suggest CANCEL for a
booking: CANCEL unsubscribes the client from every text (DESIGN.md §2, Keywords).
"""

from __future__ import annotations

from dataclasses import dataclass

from messagecenter.errors import InvalidInput
from messagecenter.sms.keywords import Keyword

# Categories, as the send path names them (sending/compose.py CATEGORY_SWITCHES).
REMINDERS = "reminders"
ACCOUNT = "account"
MARKETING = "marketing"

# Variables, in the order the editor's picker lists them.
CLIENT_VARIABLES = ("Firstname", "Lastname", "Fullname")
BUSINESS_VARIABLES = ("BusinessName", "BusinessPhone", "SmsNumber")
BOOKING_VARIABLES = ("BookingDate", "BookingTime", "Service", "StaffName", "Location")
ALL_VARIABLES = CLIENT_VARIABLES + BUSINESS_VARIABLES + BOOKING_VARIABLES


@dataclass(frozen=True)
class NotificationType:
    name: str
    label: str  # what staff read in settings and history
    category: str
    variables: tuple[str, ...]
    default_body: str
    # A booking system may trigger it through the API; the keyword answers are the app's own.
    triggerable: bool = True
    # An answer to STOP, START or HELP: always sent where the app answers keywords (no switch).
    answers_keyword: bool = False
    # Its text may ask the client to confirm ("Reply YES to confirm"): a yes records a
    # confirmation on its reference (notifications/replies.py).
    confirmable: bool = False


# The app's own answer to a text out of the business's hours.
AFTER_HOURS = "after_hours"

_FOR_CLIENT = CLIENT_VARIABLES + BUSINESS_VARIABLES
_FOR_BOOKING = _FOR_CLIENT + BOOKING_VARIABLES

TYPES: dict[str, NotificationType] = {
    t.name: t
    for t in (
        NotificationType(
            "booking_confirmation",
            "Booking confirmation",
            ACCOUNT,
            _FOR_BOOKING,
            "[BusinessName]: Hi [Firstname], you're booked for [Service] on [BookingDate] at "
            "[BookingTime]. See you then!",
            confirmable=True,
        ),
        NotificationType(
            "booking_reminder",
            "Booking reminder",
            REMINDERS,
            _FOR_BOOKING,
            "[BusinessName]: Hi [Firstname], a reminder of your [Service] on [BookingDate] at "
            "[BookingTime]. To change it, call [BusinessPhone].",
            confirmable=True,
        ),
        NotificationType(
            "booking_changed",
            "Booking changed",
            ACCOUNT,
            _FOR_BOOKING,
            "[BusinessName]: Hi [Firstname], your [Service] has moved to [BookingDate] at "
            "[BookingTime]. Questions? Call [BusinessPhone].",
            confirmable=True,
        ),
        NotificationType(
            "booking_cancelled",
            "Booking cancelled",
            ACCOUNT,
            _FOR_BOOKING,
            "[BusinessName]: Hi [Firstname], your [Service] on [BookingDate] at [BookingTime] "
            "has been cancelled. To book again, call [BusinessPhone].",
        ),
        NotificationType(
            "waitlist_spot",
            "Wait-list spot opened",
            ACCOUNT,
            _FOR_BOOKING,
            "[BusinessName]: Good news [Firstname], a spot opened in [Service] on [BookingDate] "
            "at [BookingTime]. Call [BusinessPhone] to take it.",
            confirmable=True,
        ),
        NotificationType(
            "welcome",
            "Welcome",
            ACCOUNT,
            _FOR_CLIENT,
            "Welcome to [BusinessName], [Firstname]! We'll text you from this number about your "
            "bookings. Reply STOP to opt out, HELP for help.",
        ),
        NotificationType(
            "birthday",
            "Birthday greeting",
            MARKETING,
            _FOR_CLIENT,
            "[BusinessName]: Happy birthday, [Firstname]! Reply STOP to opt out.",
        ),
        # The keyword answers: catalogued so each business can word them; the app sends them
        # itself when it (not the carrier) answers keywords, never through the trigger API.
        NotificationType(
            "opt_out_confirmation",
            "Opt-out confirmation",
            ACCOUNT,
            BUSINESS_VARIABLES,
            "[BusinessName]: You're unsubscribed and will get no more texts from us. "
            "Reply START to subscribe again.",
            triggerable=False,
            answers_keyword=True,
        ),
        NotificationType(
            "opt_in_confirmation",
            "Opt-in confirmation",
            ACCOUNT,
            BUSINESS_VARIABLES,
            "[BusinessName]: You're subscribed to our texts again. Reply STOP to opt out.",
            triggerable=False,
            answers_keyword=True,
        ),
        NotificationType(
            "help",
            "Help",
            ACCOUNT,
            BUSINESS_VARIABLES,
            "[BusinessName]: for help call [BusinessPhone]. Reply STOP to opt out.",
            triggerable=False,
            answers_keyword=True,
        ),
        # Sent by the app itself to a client's text outside the business's hours (at most one
        # a client every 12 hours, never to a keyword): intake/after_hours.py.
        NotificationType(
            AFTER_HOURS,
            "After-hours answer",
            ACCOUNT,
            BUSINESS_VARIABLES,
            "[BusinessName]: Thanks for your text! We're closed right now and will answer when "
            "we open.",
            triggerable=False,
        ),
    )
}


# The type that words the app's answer to each kind of keyword.
KEYWORD_ANSWERS = {
    Keyword.OPT_OUT: "opt_out_confirmation",
    Keyword.OPT_IN: "opt_in_confirmation",
    Keyword.HELP: "help",
}


def get_type(name: str, *, field: str = "type") -> NotificationType:
    """The catalogued type, or a refusal that lists the types there are."""
    found = TYPES.get(name)
    if found is None:
        raise InvalidInput(
            f"Unknown notification type {name!r}; use one of: " + ", ".join(TYPES) + ".",
            field=field,
        )
    return found
