"""All tables; importing this module registers them on Base.metadata."""

from messagecenter.models.base import Base
from messagecenter.models.bulk_send import BulkSend
from messagecenter.models.business import Business, Plan, PlanChange
from messagecenter.models.business_hours import BusinessHours
from messagecenter.models.client import Client
from messagecenter.models.consent import ConsentRecord, PhoneConsent
from messagecenter.models.conversation import Conversation
from messagecenter.models.conversation_event import ConversationEvent, StaffReadMarker
from messagecenter.models.idempotency import IdempotencyKey
from messagecenter.models.inbound_queue import InboundQueueItem
from messagecenter.models.message import Message, MessageStatusEvent, UnroutedMessage
from messagecenter.models.note import Note, NoteMention
from messagecenter.models.notification import Notification, NotificationTemplate
from messagecenter.models.saved_reply import SavedReply
from messagecenter.models.sign_in import SignInFailure, WebSession
from messagecenter.models.sms_number import SendPacing, SmsNumber
from messagecenter.models.staff import ApiKey, StaffMember
from messagecenter.models.usage import UsagePeriod
from messagecenter.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "BulkSend",
    "Business",
    "BusinessHours",
    "Client",
    "ConsentRecord",
    "Conversation",
    "ConversationEvent",
    "IdempotencyKey",
    "InboundQueueItem",
    "Message",
    "MessageStatusEvent",
    "Note",
    "NoteMention",
    "Notification",
    "NotificationTemplate",
    "PhoneConsent",
    "Plan",
    "PlanChange",
    "SavedReply",
    "SendPacing",
    "SignInFailure",
    "SmsNumber",
    "StaffMember",
    "StaffReadMarker",
    "UnroutedMessage",
    "UsagePeriod",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
