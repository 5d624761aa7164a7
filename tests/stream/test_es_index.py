"""What only the Elasticsearch index has: server-side rejections, monthly indices, the mapping."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stream.es_index import ElasticsearchIndex, SearchIndexError
from tests.helpers import cpost
from yuqing.config import Settings
from yuqing.records import ClassifiedPost

CST = timezone(timedelta(hours=8))


def test_an_unreachable_cluster_raises_search_index_error():  # needs no server
    with pytest.raises(SearchIndexError, match="127.0.0.1:1"):
        ElasticsearchIndex(Settings(elasticsearch_url="http://127.0.0.1:1"))


@pytest.mark.servers
def test_a_document_es_rejects_is_reported_and_the_rest_are_written(es_index):
    good = [cpost("小区物业乱收费", at=datetime(2026, 3, d, 9, tzinfo=CST)) for d in (1, 2)]
    fields = dict(cpost("道路施工噪声扰民", at=datetime(2026, 3, 3, 9, tzinfo=CST)))
    # metrics are counts (long); a crawler bug that slipped past validation sends text
    bad = ClassifiedPost.model_construct(**{**fields, "metrics": {"reads": "lots"}})
    failures = es_index.upsert([good[0], bad, good[1]])
    assert [f.post_id for f in failures] == [bad.id]
    assert "metrics.reads" in failures[0].reason
    es_index.refresh()
    assert es_index.count() == 2
    assert es_index.get(bad.id) is None


@pytest.mark.servers
def test_posts_go_to_monthly_indices_behind_the_alias(es_index):
    jan = cpost("学校食堂食品安全问题", at=datetime(2026, 1, 31, 23, 30, tzinfo=timezone.utc))
    feb = cpost("学校食堂食品安全问题", at=datetime(2026, 2, 1, 7, 30, tzinfo=CST))  # Jan 31 in UTC
    mar = cpost("学校食堂食品安全问题", at=datetime(2026, 3, 1, 12, tzinfo=CST))
    assert es_index.upsert([jan, feb, mar]) == []
    es_index.refresh()
    prefix = es_index.prefix
    assert es_index.indices() == [f"{prefix}-posts-2026.01", f"{prefix}-posts-2026.03"]
    assert es_index.count() == 3


@pytest.mark.servers
def test_tokens_are_indexed_but_not_stored(es_index):
    post = cpost("医院看病排队时间太长", at=datetime(2026, 4, 1, 9, tzinfo=CST))
    es_index.upsert([post])
    es_index.refresh()
    raw = es_index.es.search(index=es_index.alias, query={"match": {"tokens": "排队"}})
    assert raw["hits"]["total"]["value"] == 1
    source = raw["hits"]["hits"][0]["_source"]
    assert "tokens" not in source and source["text"] == "医院看病排队时间太长"
    assert es_index.get(post.id) == post.model_dump(mode="json")


class _PushBack:
    """The real client, except that the first `times` bulk requests answer 429 for the
    documents in `ids` without writing them (what a cluster under pressure does)."""

    def __init__(self, es, ids, times):
        self._es, self.ids, self.times, self.bodies = es, set(ids), times, []

    def __getattr__(self, name):
        return getattr(self._es, name)

    def bulk(self, operations):
        import orjson

        lines = operations.splitlines()
        self.bodies.append(lines)
        if not self.times:
            return self._es.bulk(operations=operations)
        self.times -= 1
        keep, items = [], []
        for action, source in zip(lines[::2], lines[1::2]):
            meta = orjson.loads(action)["index"]
            if meta["_id"] in self.ids:
                items.append({"index": {"_id": meta["_id"], "status": 429,
                                        "error": {"type": "es_rejected_execution_exception",
                                                  "reason": "queue full"}}})
            else:
                keep += [action, source]
                items.append(None)
        written = iter(self._es.bulk(operations=b"\n".join(keep) + b"\n")["items"]) if keep else iter(())
        return {"errors": True, "items": [i or next(written) for i in items]}


@pytest.mark.servers
def test_documents_pushed_back_are_sent_again_then_the_batch_fails(es_index, monkeypatch):
    monkeypatch.setattr("stream.es_index.time.sleep", lambda s: None)
    posts = [cpost(f"供水管网维修第{i}段", at=datetime(2026, 5, 1, 9, tzinfo=CST)) for i in range(3)]
    es_index.es = fake = _PushBack(es_index.es, [posts[1].id], times=2)
    assert es_index.upsert(posts) == []
    # the 2nd and 3rd requests carried only the document pushed back
    assert [len(b) // 2 for b in fake.bodies] == [3, 1, 1]
    es_index.refresh()
    assert es_index.count() == 3
    # pushed back more often than the retries: the batch fails as a whole (it is re-delivered)
    es_index.es = _PushBack(fake._es, [posts[0].id], times=10)
    with pytest.raises(SearchIndexError, match="could not write 1 document.*429"):
        es_index.upsert(posts)


@pytest.mark.servers
def test_a_batch_larger_than_one_request_is_split(es_index, monkeypatch):
    monkeypatch.setattr("stream.es_index.BULK_MAX_BYTES", 1)
    posts = [cpost(f"学校食堂第{i}次检查", at=datetime(2026, 6, 1, 9, tzinfo=CST)) for i in range(4)]
    es_index.es = fake = _PushBack(es_index.es, [], times=0)
    assert es_index.upsert(posts) == []
    assert [len(b) // 2 for b in fake.bodies] == [1, 1, 1, 1]
    es_index.refresh()
    assert es_index.count() == 4
