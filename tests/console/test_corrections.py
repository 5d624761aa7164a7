"""纠正分类: who may correct, CSRF, the stored record, and training/eval reading it."""
from __future__ import annotations

import pytest

from classifier.corrections_source import load_corrections
from console.corrections.models import Correction
from console.corrections.service import CorrectionError, record_correction, training_records

from .conftest import csrf_from, make_post


@pytest.fixture
def post(index_posts):
    return index_posts(make_post(title="小区停水", text="湖滨街道小区停水三天了没人管",
                                 topics=("housing",), sentiment="neutral"))[0]


@pytest.mark.parametrize("user", ["admin", "news", "duty"])
def test_correctors_see_the_form_and_the_search_link(client_as, post, user):
    c = client_as(user)
    assert f"/corrections/post/{post.id}" in c.get("/search/").get_data(as_text=True)
    html = c.get(f"/corrections/post/{post.id}").get_data(as_text=True)
    assert "纠正分类" in html and "湖滨街道小区停水三天了没人管" in html


@pytest.mark.parametrize("user", ["leader", "edu"])
def test_other_roles_may_not_correct(client_as, post, user):
    c = client_as(user)
    assert "/corrections/post/" not in c.get("/search/").get_data(as_text=True)
    assert c.get(f"/corrections/post/{post.id}").status_code == 403
    assert c.post(f"/corrections/post/{post.id}", data={"topics": ["utilities"],
                                                         "sentiment": "negative"}).status_code in (400, 403)
    assert c.get("/corrections/").status_code == 403
    assert "/corrections/" not in c.get("/").get_data(as_text=True)  # no menu entry either


def test_anonymous_is_sent_to_login(client, post):
    resp = client.get(f"/corrections/post/{post.id}")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]


def test_correction_is_stored_with_who_and_when(client_as, post, db):
    c = client_as("duty")
    page = f"/corrections/post/{post.id}"
    token = csrf_from(c.get(page).data)
    resp = c.post(page, data={"topics": ["utilities"], "sentiment": "negative",
                              "note": "是停水不是物业", "csrf_token": token})
    assert resp.status_code == 302
    with db.session() as s:
        rows = s.query(Correction).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.post_id, row.topics, row.sentiment) == (post.id, ["utilities"], "negative")
    assert (row.previous_topics, row.previous_sentiment) == (["housing"], "neutral")
    assert row.username == "duty" and row.role == "duty_officer" and row.created_at is not None
    assert "小区停水" in row.text and "湖滨街道小区停水三天了没人管" in row.text
    assert row.model_version == "test"
    html = c.get(page).get_data(as_text=True)
    assert "本条信息的纠正记录" in html and "duty" in html
    assert "湖滨街道" in c.get("/corrections/").get_data(as_text=True)


def test_csrf_is_required(client_as, post, db):
    c = client_as("news")
    resp = c.post(f"/corrections/post/{post.id}", data={"topics": ["utilities"], "sentiment": "negative"})
    assert resp.status_code == 400
    with db.session() as s:
        assert s.query(Correction).count() == 0


def test_invalid_choices_are_refused(client_as, post, db):
    c = client_as("news")
    page = f"/corrections/post/{post.id}"
    for data in ({"sentiment": "negative"}, {"topics": ["nope"], "sentiment": "negative"},
                 {"topics": ["utilities"], "sentiment": "angry"},
                 {"topics": ["other", "utilities"], "sentiment": "negative"}):
        resp = c.post(page, data={**data, "csrf_token": csrf_from(c.get(page).data)})
        assert resp.status_code == 400
    with db.session() as s:
        assert s.query(Correction).count() == 0


def test_unknown_post_is_404(client_as, post):
    assert client_as("news").get("/corrections/post/nope").status_code == 404


def test_service_and_training_source(db, settings):
    with db.session() as s:
        with pytest.raises(CorrectionError):
            record_correction(s, post_id="p", text="", topics=["utilities"], sentiment="negative",
                              username="u", role="admin")
        record_correction(s, post_id="p1", text="小区停水三天了没人管", topics=["utilities"],
                          sentiment="neutral", username="u", role="admin")
        record_correction(s, post_id="p1", text="小区停水三天了没人管", topics=["utilities"],
                          sentiment="negative", username="u", role="admin")
    with db.session() as s:
        assert [r["sentiment"] for r in training_records(s)] == ["neutral", "negative"]
    records = load_corrections(settings.case_db_url)
    assert records[-1] == {"text": "小区停水三天了没人管", "topics": ["utilities"],
                           "sentiment": "negative", "source": "correction"}


# -- the model in use ---------------------------------------------------------

def test_the_page_shows_the_model_in_use_and_the_corrections_it_has_not_learnt(
        client_as, post, settings, model_path, classifier_model):
    settings.model_path = model_path
    c = client_as("news")
    html = c.get("/corrections/").get_data(as_text=True)
    test = classifier_model.metadata["metrics"]["test"]
    assert classifier_model.version in html and "留出测试集" in html and "网民帖文评测集" in html
    assert f"{test['topic_macro_f1_livelihood']:.3f}" in html
    assert f"{test['sentiment_accuracy']:.3f}" in html
    assert "此后新增纠正 <strong>0</strong> 条" in html
    page = f"/corrections/post/{post.id}"
    token = csrf_from(c.get(page).data)
    assert c.post(page, data={"topics": ["utilities"], "sentiment": "negative",
                              "csrf_token": token}).status_code == 302
    html = c.get("/corrections/").get_data(as_text=True)
    assert "此后新增纠正 <strong>1</strong> 条" in html and "yuqing train" in html


@pytest.mark.parametrize("content", [None, b"not a model"])
def test_the_page_says_so_when_there_is_no_usable_model(client_as, settings, tmp_path, content):
    settings.model_path = tmp_path / "model.joblib"
    if content is not None:
        settings.model_path.write_bytes(content)
    html = client_as("news").get("/corrections/").get_data(as_text=True)
    assert "尚无可用模型" in html and "纠正记录" in html


def test_model_card_counts_the_corrections_a_model_learnt():
    from console.corrections.model_card import card_from_metadata

    band = {"topic_macro_f1_livelihood": [0.61, 0.71], "sentiment_accuracy": [0.79, 0.81]}
    card = card_from_metadata({
        "version": "v1", "trained_at": "2026-11-23T07:17:00+00:00",
        "counts": {"all": {"sources": {"seed": 10, "correction": 7}}},
        "metrics": {"test": {"n": 5, "topic_macro_f1_livelihood": 0.67, "sentiment_accuracy": 0.8,
                             "intervals": band},
                    "colloquial_eval": None}})
    assert card.corrections_used == 7 and card.trained_at.tzinfo is not None
    assert [(f.n, f.topic_interval, f.sentiment_interval) for f in card.figures] == [
        (5, (0.61, 0.71), (0.79, 0.81))]
