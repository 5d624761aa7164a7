"""The search-index contract, run against SQLite FTS5 and Elasticsearch alike.

Posts are stamped in China Standard Time; the index keeps UTC, so histogram
buckets are UTC hours and days.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stream.index import SearchQuery
from tests.helpers import cpost
from yuqing.records import ClassifiedPost

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 5, 10, 8, 0, tzinfo=CST)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def corpus(index):
    posts = {
        "fee": cpost("小区物业乱收费，业主投诉无人理", topics=("housing", "prices_fees"),
                     sentiment="negative", source="board", region=("海淀区",), at=at(0)),
        "water": cpost("小区停水三天了没人管", topics=("utilities",), sentiment="negative",
                       source="board", region=("朝阳区",), at=at(1)),
        "food": cpost("学校食堂食品安全问题引关注", topics=("food_safety", "education"),
                      sentiment="negative", source="news", region=("海淀区",), at=at(2)),
        "noise": cpost("道路施工噪声扰民，夜间施工不停", topics=("environment",), sentiment="negative",
                       source="news", region=("朝阳区",), at=at(26)),
        "clinic": cpost("医院看病排队时间太长", topics=("healthcare",), sentiment="neutral",
                        source="weibo", at=at(27)),
        "praise": cpost("社区物业服务很好，点赞", topics=("housing",), sentiment="positive",
                        source="weibo", region=("海淀区",), at=at(50)),
    }
    assert index.upsert(list(posts.values())) == []
    index.refresh()
    return {name: p.id for name, p in posts.items()}


def ids(result) -> list[str]:
    return [h["id"] for h in result.hits]


def test_upsert_is_idempotent(index):
    post = cpost("小区停水三天了没人管", at=at(0))
    assert index.upsert([post]) == []
    index.refresh()
    again = post.model_copy(update={"text": "小区停水四天了没人管"})
    assert index.upsert([again]) == []
    index.refresh()
    assert index.count() == 1
    assert index.get(post.id)["text"] == "小区停水四天了没人管"
    assert index.search(SearchQuery(text="停水")).total == 1


def test_a_redelivered_post_without_publish_time_stays_one_document(index):
    """Without published_at the time is fetched_at, which a re-crawl moves (here into another
    month); the post must still be one document."""
    first = cpost("供暖不热，家里只有十五度", at=datetime(2026, 1, 31, 20, tzinfo=CST))
    first = first.model_copy(update={"published_at": None})
    refetched = first.model_copy(update={"fetched_at": datetime(2026, 2, 2, 9, tzinfo=CST)})
    assert index.upsert([first]) == []
    index.refresh()
    assert index.upsert([refetched]) == []
    index.refresh()
    assert index.count() == 1
    assert index.get(first.id)["fetched_at"].startswith("2026-02-02")


def test_get_returns_the_classified_post_json(index):
    post = cpost("医院看病排队时间太长", title="看病难", region=("海淀区",), at=at(3))
    index.upsert([post])
    index.refresh()
    doc = index.get(post.id)
    assert ClassifiedPost.model_validate(doc) == post
    assert index.get("no-such-post-id") is None


def test_search_matches_all_words_of_the_query_cut_by_jieba(index, corpus):
    assert set(ids(index.search(SearchQuery(text="物业")))) == {corpus["fee"], corpus["praise"]}
    assert ids(index.search(SearchQuery(text="小区物业"))) == [corpus["fee"]]  # 小区 AND 物业
    assert ids(index.search(SearchQuery(text="看病 排队"))) == [corpus["clinic"]]
    assert ids(index.search(SearchQuery(text="食品安全"))) == [corpus["food"]]
    assert index.search(SearchQuery(text="物业 停水")).total == 0
    assert index.search(SearchQuery(text="地铁")).total == 0
    empty = index.search(SearchQuery(text="！！。"))  # no words at all
    assert empty.total == 0 and empty.hits == []


def test_search_finds_traditional_and_simplified_alike(index, corpus):
    trad = cpost("醫院看病排隊時間太長，掛號難", topics=("healthcare",), at=at(3))
    assert index.upsert([trad]) == []
    index.refresh()
    both = {corpus["clinic"], trad.id}
    assert set(ids(index.search(SearchQuery(text="医院 排队")))) == both
    assert set(ids(index.search(SearchQuery(text="醫院 排隊")))) == both
    assert index.get(trad.id)["text"] == "醫院看病排隊時間太長，掛號難"  # shown as written


def test_search_reads_abbreviations_as_their_words(index, corpus):
    post = cpost("cg又把路边的摊子掀了", topics=("government_services",), at=at(3))
    assert index.upsert([post]) == []
    index.refresh()
    assert ids(index.search(SearchQuery(text="城管 摊子"))) == [post.id]
    assert ids(index.search(SearchQuery(text="cg 摊子"))) == [post.id]
    assert index.get(post.id)["text"] == "cg又把路边的摊子掀了"  # shown as written


def test_search_without_text_is_everything_newest_first(index, corpus):
    result = index.search(SearchQuery())
    assert result.total == 6
    assert ids(result) == [corpus[n] for n in ("praise", "clinic", "noise", "food", "water", "fee")]


def test_filters_combine(index, corpus):
    def find(**kw):
        return set(ids(index.search(SearchQuery(**kw))))

    assert find(topics=["housing"]) == {corpus["fee"], corpus["praise"]}
    assert find(topics=["housing", "prices_fees"]) == {corpus["fee"]}  # every topic given
    assert find(sentiment="positive") == {corpus["praise"]}
    assert find(source="news") == {corpus["food"], corpus["noise"]}
    assert find(region="朝阳区") == {corpus["water"], corpus["noise"]}
    assert find(ids=[corpus["fee"], corpus["clinic"]]) == {corpus["fee"], corpus["clinic"]}
    assert find(since=at(2), until=at(27)) == {corpus["food"], corpus["noise"]}  # [since, until)
    assert find(text="小区", sentiment="negative", region="海淀区") == {corpus["fee"]}
    assert find(text="物业", topics=["housing"], source="board") == {corpus["fee"]}
    assert find(source="nowhere") == set()


def test_facets_count_all_matches_not_just_the_page(index, corpus):
    result = index.search(SearchQuery(size=1))
    assert len(result.hits) == 1 and result.total == 6
    assert result.facets["sentiment"] == {"negative": 4, "neutral": 1, "positive": 1}
    assert result.facets["source"] == {"board": 2, "news": 2, "weibo": 2}
    assert result.facets["topics"] == {"housing": 2, "prices_fees": 1, "utilities": 1,
                                       "food_safety": 1, "education": 1, "environment": 1,
                                       "healthcare": 1}
    narrowed = index.search(SearchQuery(text="小区"))
    assert narrowed.facets["source"] == {"board": 2}
    assert narrowed.facets["topics"] == {"housing": 1, "prices_fees": 1, "utilities": 1}


def test_paging_walks_every_match_once_newest_first(index):
    posts = [cpost(f"第{i}号 小区停水", at=at(i)) for i in range(25)]
    assert index.upsert(posts) == []
    index.refresh()
    pages = [index.search(SearchQuery(text="停水", page=p, size=10)) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 5, 0]
    assert all(p.total == 25 for p in pages)
    walked = [h["id"] for p in pages for h in p.hits]
    assert walked == [p.id for p in reversed(posts)]


def test_histogram_by_day_and_hour(index, corpus):
    by_day = sorted(index.histogram("topics", "day"))
    assert by_day == sorted([
        ("2026-05-10", "housing", 1), ("2026-05-10", "prices_fees", 1),
        ("2026-05-10", "utilities", 1), ("2026-05-10", "food_safety", 1),
        ("2026-05-10", "education", 1),
        ("2026-05-11", "environment", 1), ("2026-05-11", "healthcare", 1),
        ("2026-05-12", "housing", 1),
    ])
    assert sorted(index.histogram("sentiment", "day")) == [
        ("2026-05-10", "negative", 3), ("2026-05-11", "negative", 1),
        ("2026-05-11", "neutral", 1), ("2026-05-12", "positive", 1)]
    assert sorted(index.histogram("sentiment", "hour", since=at(26))) == [
        ("2026-05-11T02", "negative", 1), ("2026-05-11T03", "neutral", 1),
        ("2026-05-12T02", "positive", 1)]
    with pytest.raises(ValueError):
        index.histogram("source", "day")


def test_a_document_that_cannot_be_indexed_is_reported_and_the_rest_are_written(index):
    good = [cpost("小区停水三天了没人管", at=at(i)) for i in range(3)]
    fields = dict(cpost("医院看病排队时间太长", at=at(5)))
    broken = ClassifiedPost.model_construct(**{**fields, "metrics": {"reads": object()}})
    failures = index.upsert([good[0], broken, good[1], good[2]])
    assert [f.post_id for f in failures] == [broken.id]
    assert failures[0].reason
    index.refresh()
    assert index.count() == 3
    assert index.get(broken.id) is None
    assert index.search(SearchQuery(text="停水")).total == 3


def test_an_empty_index_answers(index):
    assert index.count() == 0
    result = index.search(SearchQuery(text="停水"))
    assert result.total == 0 and result.hits == []
    assert index.histogram("topics", "day") == []
    assert index.get("nothing") is None
