import json

import pytest

from tests.helpers import cpost
from yuqing.records import (MAX_TEXT_CHARS, SCHEMA_VERSION, ClassifiedPost, Post, RecordError,
                            post_id_for)


def post_dict(**kw):
    d = {"id": post_id_for("https://a.test/1"), "source": "s", "source_type": "news",
         "url": "https://a.test/1", "title": "t", "text": "正文"}
    d.update(kw)
    return d


def test_round_trip_keeps_everything():
    p = cpost(region=["江宁区"])
    again = ClassifiedPost.from_json(p.to_json())
    assert again == p and again.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe not utf-8", "not valid UTF-8"),
    (b"{not json", "not JSON"),
    (json.dumps(post_dict(text="   ")), "Post.text"),
    (json.dumps(post_dict(text="长" * (MAX_TEXT_CHARS + 1))), "Post.text"),
    (json.dumps(post_dict(source_type="tv")), "Post.source_type"),
    (json.dumps(post_dict(extra_field=1)), "Post.extra_field"),
    (json.dumps(post_dict(schema_version=SCHEMA_VERSION + 1)), "newer than this code"),
    (json.dumps(post_dict(id="x")), "Post.id"),
])
def test_invalid_posts_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(RecordError) as err:
        Post.from_json(payload)
    assert reason in err.value.reason


def test_ids_are_derived_and_stable():
    assert post_id_for("https://a.test/1") == post_id_for("https://a.test/1")
    assert post_id_for(content="同一内容") != post_id_for(content="另一内容")
    with pytest.raises(RecordError):
        post_id_for()


def test_naive_datetimes_become_utc():
    p = Post.from_json(post_dict(published_at="2026-11-20T10:00:00"))
    assert p.published_at.tzinfo is not None
