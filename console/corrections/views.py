"""纠正分类: a form to correct one post's topics and sentiment, and the list of corrections."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from yuqing.taxonomy import SENTIMENTS, TOPICS

from ..auth.models import can_correct
from ..extensions import get_db, get_index, stores
from .model_card import model_card
from .service import CorrectionError, corrections_since, recent_corrections, record_correction

bp = Blueprint("corrections", __name__, url_prefix="/corrections", template_folder="templates")


def _require_corrector() -> None:
    if not can_correct(current_user):
        abort(403)


def _post_or_404(post_id: str) -> dict:
    try:
        post = get_index().get(post_id)
    except Exception:
        current_app.logger.exception("index lookup failed")
        abort(503)
    if not post:
        abort(404)
    return post


def _codes(items) -> list[str]:
    out = []
    for t in items or []:
        out.append(t.get("code") if isinstance(t, dict) else str(t))
    return [c for c in out if c]


def _label(value) -> str | None:
    if isinstance(value, dict):
        return value.get("label")
    return value


@bp.route("/")
@login_required
def index():
    _require_corrector()
    card = model_card(stores().settings.model_file)
    with get_db().session() as s:
        rows = recent_corrections(s, limit=200)
        pending = corrections_since(s, card.trained_at) if card and card.trained_at else None
    return render_template("corrections/index.html", rows=rows, card=card, pending=pending)


@bp.route("/post/<post_id>", methods=["GET", "POST"])
@login_required
def correct(post_id: str):
    _require_corrector()
    post = _post_or_404(post_id)
    current_topics = _codes(post.get("topics"))
    current_sentiment = _label(post.get("sentiment"))
    if request.method == "POST":
        topics = request.form.getlist("topics")
        sentiment = request.form.get("sentiment", "")
        text = "\n".join(x for x in (post.get("title"), post.get("text")) if x)
        try:
            with get_db().session() as s:
                record_correction(
                    s, post_id=post_id, text=text, topics=topics, sentiment=sentiment,
                    username=current_user.username, role=current_user.role,
                    previous_topics=current_topics, previous_sentiment=current_sentiment,
                    model_version=post.get("model_version"), note=request.form.get("note", ""))
        except CorrectionError as exc:
            flash(str(exc), "error")
            return render_template("corrections/form.html", post=post, topics=TOPICS,
                                   sentiments=SENTIMENTS, chosen=topics, sentiment=sentiment,
                                   current_topics=current_topics,
                                   current_sentiment=current_sentiment, history=[]), 400
        flash("已保存纠正，下次训练模型时生效", "success")
        return redirect(url_for("corrections.correct", post_id=post_id))
    with get_db().session() as s:
        history = recent_corrections(s, post_id=post_id, limit=20)
    latest = history[0] if history else None
    return render_template(
        "corrections/form.html", post=post, topics=TOPICS, sentiments=SENTIMENTS,
        chosen=list(latest.topics) if latest else current_topics,
        sentiment=latest.sentiment if latest else current_sentiment,
        current_topics=current_topics, current_sentiment=current_sentiment, history=history)


@bp.app_context_processor
def _inject_can_correct():
    """`can_correct` in every template (the search page shows a 纠正分类 link with it)."""
    try:
        return {"can_correct": can_correct(current_user)}
    except Exception:  # outside a request with a user loader (error pages)
        return {"can_correct": False}
