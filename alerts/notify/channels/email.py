"""E-mail through SMTP (smtplib); the password comes from an environment variable."""
from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .base import Channel, ChannelError, Message


class EmailChannel(Channel):
    def build(self, message: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = self.spec.sender
        msg["To"] = message.recipient
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.spec.sender.rpartition("@")[2] or None)
        msg.set_content(message.text, charset="utf-8")
        return msg

    def send(self, message: Message) -> None:
        spec = self.spec
        # no login when the variables are unset (a relay inside the network)
        user = os.environ.get(spec.username_env) if spec.username_env else None
        password = self.secret(spec.password_env, "SMTP 密码") if user else None
        cls = smtplib.SMTP_SSL if spec.ssl else smtplib.SMTP
        try:
            with cls(spec.host, spec.port, timeout=spec.timeout) as smtp:
                if spec.starttls:
                    smtp.starttls()
                if user and password:
                    smtp.login(user, password)
                smtp.send_message(self.build(message))
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP：{type(exc).__name__}: {exc}") from exc
