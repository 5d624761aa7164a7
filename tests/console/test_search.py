"""舆情检索: filters, paging, facets, escaping and de-identification of hits."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from .conftest import make_post

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def corpus(index_posts):
    return index_posts(
        make_post(title="学校食堂饭菜质量差", text="孩子说学校食堂饭菜质量差", topics=("education",),
                  sentiment="negative", source="市长信箱"),
        make_post(title="新开公交线路方便出行", text="新开的公交线路很方便", topics=("transport",),
                  sentiment="positive", source="本地新闻网", source_type="news"),
        make_post(title="小区停水无人处理", text="小区停水三天无人处理", topics=("utilities",),
                  sentiment="negative", source="本地新闻网", source_type="news"),
        make_post(title="三月一日深夜帖", text="深夜反映噪声扰民", topics=("environment",),
                  at=datetime(2026, 3, 1, 23, 30, tzinfo=SH).astimezone(timezone.utc)),
        make_post(title="三月二日凌晨帖", text="凌晨反映噪声扰民", topics=("environment",),
                  at=datetime(2026, 3, 2, 0, 30, tzinfo=SH).astimezone(timezone.utc)),
    )


def titles(html: str, corpus) -> set[str]:
    return {p.title for p in corpus if p.title in html}


def test_search_all(client_as, corpus):
    html = client_as("duty").get("/search/").get_data(as_text=True)
    assert "共 5 条" in html
    assert titles(html, corpus) == {p.title for p in corpus}


def test_free_text(client_as, corpus):
    html = client_as("duty").get("/search/?q=停水").get_data(as_text=True)
    assert titles(html, corpus) == {"小区停水无人处理"}
    assert "<mark>停水</mark>" in html


def test_traditional_and_simplified_find_and_mark_each_other(client_as, index_posts):
    index_posts(make_post(title="醫院掛號難", text="醫院掛號排隊三小時", topics=("healthcare",)),
                make_post(title="医院停车难", text="医院门口停车难", topics=("transport",)))
    for q in ("医院", "醫院"):
        html = client_as("duty").get(f"/search/?q={q}").get_data(as_text=True)
        assert "共 2 条" in html, q
        # each post is shown as written, its match marked
        assert "<mark>醫院</mark>掛號排隊三小時" in html and "<mark>医院</mark>门口停车难" in html


def test_snippet_folds_script_and_case_but_shows_the_text_as_written():
    from console.filters import snippet

    assert snippet("ABC醫院掛號", "abc 医院") == [("ABC", True), ("醫院", True), ("掛號", False)]
    assert snippet("小区停水", "停電") == [("小区停水", False)]


@pytest.mark.parametrize("query,expected", [
    ("topic=education", {"学校食堂饭菜质量差"}),
    ("sentiment=positive", {"新开公交线路方便出行"}),
    ("source=本地新闻网", {"新开公交线路方便出行", "小区停水无人处理"}),
    ("source=本地新闻网&sentiment=negative", {"小区停水无人处理"}),
    ("since=2026-03-02&until=2026-03-02", {"三月二日凌晨帖"}),   # local-day boundaries
    ("since=2026-03-01&until=2026-03-01", {"三月一日深夜帖"}),
    ("until=2026-03-02", {"三月一日深夜帖", "三月二日凌晨帖"}),
    ("q=噪声&since=2026-03-02", {"三月二日凌晨帖"}),
])
def test_filters(client_as, corpus, query, expected):
    html = client_as("duty").get(f"/search/?{query}").get_data(as_text=True)
    assert titles(html, corpus) == expected, query


def test_date_filter_with_local_offset(client_as, index_posts):
    late = make_post(title="本地时间深夜帖", at=datetime(2026, 3, 1, 23, 30, tzinfo=SH))
    index_posts(late)
    html = client_as("duty").get("/search/?since=2026-03-02").get_data(as_text=True)
    assert late.title not in html


def test_bad_filters_ignored(client_as, corpus):
    resp = client_as("duty").get("/search/?topic=nope&sentiment=bad&since=notadate&page=x")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "共 5 条" in html and "日期格式有误" in html


def test_facets(client_as, corpus):
    html = client_as("duty").get("/search/").get_data(as_text=True)
    assert '生态环境/污染/噪声</a> <span class="count">2</span>' in html
    assert '负面</a> <span class="count">' in html
    assert '本地新闻网</a> <span class="count">2</span>' in html
    html = client_as("duty").get("/search/?sentiment=negative").get_data(as_text=True)
    assert "topic=education" in html and "sentiment=negative" in html   # facet links keep filters


def test_paging(client_as, index_posts):
    index_posts(*[make_post(title=f"分页帖{i:02d}", topics=("transport",)) for i in range(25)])
    c = client_as("duty")
    page1 = c.get("/search/?topic=transport").get_data(as_text=True)
    page2 = c.get("/search/?topic=transport&page=2").get_data(as_text=True)
    assert "共 25 条，第 1 / 2 页" in page1 and "下一页" in page1
    assert page1.count('<article class="hit">') == 20
    assert page2.count('<article class="hit">') == 5 and "上一页" in page2
    assert "page=2&amp;topic=transport" in page1 or "topic=transport&amp;page=2" in page1


def test_hits_escaped_and_deidentified(client_as, index_posts):
    index_posts(make_post(title="<script>alert(1)</script>", author="张三丰",
                          text="<b>求助</b>我的电话13812345678，身份证32010219900101123X",
                          url="javascript:alert(1)"),
                make_post(title="正常链接帖", url="https://news.example.cn/a/1"))
    html = client_as("duty").get("/search/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>求助</b>" not in html and "&lt;b&gt;求助&lt;/b&gt;" in html
    assert "13812345678" not in html and "138****5678" in html
    assert "32010219900101123X" not in html and "320***********123X" in html
    assert "张三丰" not in html and "作者：张**" in html
    assert "javascript:" not in html
    assert 'href="https://news.example.cn/a/1" rel="noopener noreferrer nofollow"' in html


def test_search_requires_login(client):
    assert client.get("/search/?q=x").status_code == 302
