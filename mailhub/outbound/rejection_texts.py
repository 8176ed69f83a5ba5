"""What each rejection says: what happened and what the sender can do about it.

One entry per reason. The texts are English message ids: templates/locales/ translates them
(mailhub/i18n.py), and their `{placeholders}` are filled from the rejection's parameters after
translation. `tenant` is always available.
"""

from __future__ import annotations

from mailhub.i18n import N_, Translator

TEXTS: dict[str, tuple[str, str]] = {
    "unknown_sender": (
        N_("{sender} is not a member of {tenant}, and only members can publish by email."),
        N_("Send from the address your account uses, or ask an administrator to add you."),
    ),
    "no_sender": (
        N_("The message has no usable From address, so it cannot be published in anyone's name."),
        N_("Send it again from your usual mail program."),
    ),
    "not_allowed": (
        N_("The account of {sender} in {tenant} is deactivated, so it cannot publish by email."),
        N_("Ask an administrator to reactivate your account."),
    ),
    "unknown_space": (
        N_("There is no space called {space} in {tenant}."),
        N_("Check the address; your intranet lists its spaces and their addresses."),
    ),
    "notifications_address": (
        N_("{address} only sends notifications: mail to it is not read by anyone."),
        N_(
            "To comment on a page, reply to its notification (your reply goes to the page) or "
            "comment on the intranet. To write a new page, mail the address of a space, such as "
            "{example}. To hear about less, follow the link at the bottom of any notification."
        ),
    ),
    "unknown_key": (
        N_("The reply address is unknown or has expired."),
        N_("Open the page on the intranet and comment there, or reply to a newer notification."),
    ),
    "page_gone": (
        N_("The page this reply belongs to no longer exists."),
        N_("Open the intranet to see where the discussion went on."),
    ),
    "not_your_key": (
        N_(
            "The reply address was sent to someone else, not to {sender}. Reply addresses belong "
            "to the person a notification was sent to."
        ),
        N_("Reply from the address that received the notification, or comment on the intranet."),
    ),
    "empty": (
        N_("The message has neither a subject nor any text."),
        N_("Write your text in the message and send it again."),
    ),
    "empty_reply": (N_("The reply has no text."), N_("Write your text above the quoted message.")),
    "too_large": (
        N_("The message is larger than {tenant} accepts ({limit})."),
        N_("Share large files as a link to a file share, or spread them over several messages."),
    ),
    "not_processed": (
        N_("The message could not be processed: reading it failed several times."),
        N_(
            "Send it again in a simpler form (plain text, fewer or smaller attachments). The "
            "administrators of {tenant} can see it in the log of incoming mail."
        ),
    ),
    "too_deep": (
        N_(
            "The message could not be read: its parts are nested more deeply than any mail "
            "program nests them."
        ),
        N_("Send the text again as a new message, without forwarding it inside other messages."),
    ),
    "not_supported": (
        N_("Mail to {address} is not handled yet."),
        N_("Use the intranet for this for now."),
    ),
    "blocked_attachment": (
        N_("Your message was published, but these attachments were left out: {files}."),
        N_(
            "Share those files another way (a link to a file share), or send them in a zip if "
            "your administrators allow it."
        ),
    ),
    "no_questions": (
        N_("No line of your message reads as a question, so no form was made."),
        N_(
            "Send one question per line to {address}, numbered or with a dash, for example: "
            "“1. Your name”, “2. Which day? [Mon / Tue / Wed]”, “3. Anything else? (long, "
            "optional)”. The subject becomes the form's title."
        ),
    ),
    "restricted_space": (
        N_("Only members of the {space} space can write to it, and {sender} is not one of them."),
        N_("Ask an administrator of {tenant} to add you to the space."),
    ),
    "no_default_space": (
        N_("{tenant} has no default space for {address}, so no form was made."),
        N_(
            "Send the questions to the space they belong to, as SPACE+form@ (for example "
            "sales+form@), or ask an administrator to choose a default space."
        ),
    ),
    "form_closed": (
        N_("The form “{form}” is closed, so your answers were not recorded."),
        N_("If they still matter, send them to the person who made the form."),
    ),
    "form_internal": (
        N_(
            "The form “{form}” takes answers from members of {tenant} only, so yours were not "
            "recorded."
        ),
        N_("If you should be able to answer, ask the person who made the form."),
    ),
    "form_gone": (
        N_("The form this reply belongs to no longer exists."),
        N_("If your answers still matter, send them to the person who made the form."),
    ),
    "unknown_token": (
        N_("The unsubscribe address is unknown or has expired."),
        N_(
            "Use the unsubscribe link at the bottom of a newer email, or change your settings on "
            "the intranet."
        ),
    ),
    "mandatory": (
        N_(
            "An administrator of {tenant} made this mail mandatory for everyone, so it cannot be "
            "turned off."
        ),
        N_("You can still get it less often: follow the link at the bottom of the email."),
    ),
    "objection": (
        N_(
            "You have objected to {tenant} processing your personal data, so your message was "
            "not processed."
        ),
        N_(
            "To publish by email again, withdraw your objection in your privacy settings on the "
            "intranet."
        ),
    ),
    "restriction": (
        N_(
            "You asked {tenant} to restrict the processing of your personal data, so your message "
            "was not processed."
        ),
        N_(
            "Once the restriction is lifted, send your message again; your privacy settings on the "
            "intranet show where the request stands."
        ),
    ),
}
# Codes for mail that was used, with a problem worth telling the sender about.
PUBLISHED_ANYWAY = frozenset({"blocked_attachment"})
FALLBACK = (
    N_("Your message could not be used."),
    N_("If you think this is a mistake, contact your intranet's administrators."),
)


def explain(_: Translator, code: str, params: dict[str, str], tenant: str) -> tuple[str, str]:
    """(what happened, what to do) in the translator's language."""
    what, todo = TEXTS.get(code, FALLBACK)
    values = {**params, "tenant": tenant}
    try:
        return _(what, **values), _(todo, **values)
    except (KeyError, IndexError, ValueError):
        # A parameter missing from an old row, or a broken translation: say less, not nothing.
        return _(FALLBACK[0]), _(FALLBACK[1])
