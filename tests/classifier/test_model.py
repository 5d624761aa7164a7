from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from classifier.corpus import SEED_PATH, TOPICS
from classifier.model import KEYWORD_STOPWORDS, Classifier, ModelError, Prediction
from classifier.sensitive import SensitiveWordsError, load_sensitive_words
from classifier.tokenizer import tokenize
from yuqing.records import ClassifiedPost, Post, post_id_for

from .conftest import SENSITIVE_WORDS

WATER = "小区停水三天了没人管"
CANTEEN = "孩子学校食堂饭菜发霉，家长很愤怒"


def test_example_texts_are_not_training_seeds():
    seeds = {json.loads(line)["text"] for line in SEED_PATH.read_text(encoding="utf-8").splitlines()}
    assert WATER not in seeds and CANTEEN not in seeds


def test_water_outage_is_utilities_and_negative(classifier):
    pred = classifier.predict_batch([WATER])[0]
    assert "utilities" in [code for code, _ in pred.topics]
    assert pred.sentiment[0] == "negative"
    assert "停水" in pred.keywords


def test_mouldy_canteen_food_is_food_safety_or_education_and_negative(classifier):
    pred = classifier.predict_batch([CANTEEN])[0]
    assert {"food_safety", "education"} & {code for code, _ in pred.topics}
    assert pred.sentiment[0] == "negative"


@pytest.mark.parametrize("text, sentiment", [
    ("感谢派出所民警半天就帮我找回了被偷的电动车", "positive"),
    ("关于本周六城北片区计划停电检修的通知", "neutral"),
    ("物业费年年涨，电梯坏了一个月也没人修", "negative"),
])
def test_sentiment_of_plain_cases(classifier, text, sentiment):
    assert classifier.predict_batch([text])[0].sentiment[0] == sentiment


def test_prediction_shape(classifier):
    texts = [WATER, CANTEEN, "今天天气不错，去公园散步", "x"]
    preds = classifier.predict_batch(texts)
    assert len(preds) == len(texts) and all(isinstance(p, Prediction) for p in preds)
    for text, p in zip(texts, preds):
        codes = [c for c, _ in p.topics]
        scores = [s for _, s in p.topics]
        assert codes and set(codes) <= set(TOPICS)
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        if codes != ["other"]:
            assert all(s >= classifier.thresholds[c] for c, s in p.topics)
        assert p.sentiment[0] in ("negative", "neutral", "positive") and 0 <= p.sentiment[1] <= 1
        assert len(p.keywords) <= 5 and set(p.keywords) <= set(tokenize(text))


def test_batch_equals_one_by_one(classifier):
    texts = [WATER, CANTEEN, "医院挂号排了一上午"]
    batch = classifier.predict_batch(texts)
    single = [classifier.predict_batch([t])[0] for t in texts]
    for b, s in zip(batch, single):
        assert [c for c, _ in b.topics] == [c for c, _ in s.topics]
        assert b.sentiment[0] == s.sentiment[0] and b.keywords == s.keywords
        assert b.topics[0][1] == pytest.approx(s.topics[0][1])
    assert classifier.predict_batch([]) == []


def test_sensitive_hits_most_severe_first(classifier):
    pred = classifier.predict_batch(["工人讨薪不成准备去堵路，听说化工厂爆炸造成死亡"])[0]
    assert pred.sensitive_hits[:2] == ["爆炸", "死亡"]
    assert {"堵路", "讨薪"} <= set(pred.sensitive_hits)
    assert classifier.predict_batch([WATER])[0].sensitive_hits == []


def test_sensitive_words_file(tmp_path):
    words = load_sensitive_words(SENSITIVE_WORDS)
    assert {"爆炸", "死亡", "中毒", "群体性", "维权", "堵路", "跳楼"} <= set(words)
    custom = tmp_path / "words.yaml"
    custom.write_text("low: [噪音]\nhigh: [停水]\n", encoding="utf-8")
    assert load_sensitive_words(custom) == ["停水", "噪音"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("high: 爆炸\n", encoding="utf-8")
    with pytest.raises(SensitiveWordsError, match="bad.yaml"):
        load_sensitive_words(bad)


def test_custom_sensitive_words_at_load(trained, tmp_path):
    words = tmp_path / "words.yaml"
    words.write_text("medium: [停水]\n", encoding="utf-8")
    clf = Classifier.load(trained[1], sensitive_words_path=words)
    assert clf.predict_batch([WATER])[0].sensitive_hits == ["停水"]


def _post(text, title=""):
    return Post(id=post_id_for(content=title + text), source="test-board", source_type="board",
                title=title, text=text, published_at=datetime(2024, 5, 1, tzinfo=timezone.utc))


def test_classify_posts(classifier):
    posts = [_post("三天了没人管", title="小区停水"), _post(CANTEEN), _post("感谢民警帮我找回电动车")]
    out = classifier.classify_posts(posts, batch_size=2)
    assert [c.id for c in out] == [p.id for p in posts]
    assert all(isinstance(c, ClassifiedPost) for c in out)
    assert all(c.model_version == classifier.version for c in out)
    assert "utilities" in out[0].topic_codes  # title and text are classified together
    assert out[0].sentiment.label.value == "negative"
    assert out[0].title == "小区停水" and out[0].published_at == posts[0].published_at
    # a ClassifiedPost round-trips through JSON and can be classified again
    again = ClassifiedPost.from_json(out[1].to_json())
    assert classifier.classify_posts([again])[0].topic_codes == out[1].topic_codes
    assert classifier.classify_posts([]) == []


def test_classify_json_is_the_json_of_classify_posts(classifier):
    from datetime import timedelta

    plain = _post("三天了没人管", title="小区停水")
    placed = Post(id="p" * 12, source="s", source_type="news", text="医院排队太久，挂号难",
                  region=["江北区"], metrics={"reads": 3}, author="王**",
                  fetched_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8))))
    board = Post(id="b" * 12, source="b", source_type="board", text="学校食堂饭菜发霉",
                 reply_status="已回复", reply_text="已责成整改", reply_at=datetime(2026, 1, 3))
    old = classifier.classify_posts([plain])[0].model_copy(
        update={"cluster_id": "e1", "keywords": ["旧"], "model_version": "old"})
    posts = [plain, placed, board, old]
    objects = classifier.classify_posts(posts, batch_size=3)
    payloads = classifier.classify_json(posts, batch_size=3)
    assert len(payloads) == len(posts)
    for obj, payload in zip(objects, payloads):
        parsed = ClassifiedPost.from_json(payload)
        assert parsed.classified_at.tzinfo is not None
        assert parsed.model_copy(update={"classified_at": obj.classified_at}) == obj
    assert ClassifiedPost.from_json(payloads[3]).cluster_id is None  # old labels are not kept
    assert classifier.classify_json([]) == []


def test_version_and_metadata(classifier, trained):
    metadata = trained[0]
    assert classifier.version == metadata["version"]
    assert classifier.metadata["data_hash"] == metadata["data_hash"]
    assert {"version", "trained_at", "data_hash", "metrics"} <= set(classifier.metadata)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        Classifier.load(tmp_path / "missing.joblib")
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="junk.joblib"):
        Classifier.load(junk)


def test_sensitive_levels(classifier, tmp_path):
    from classifier.sensitive import sensitive_level

    assert classifier.sensitive_level("爆炸") == "high"
    assert classifier.sensitive_level("讨薪") == "medium"
    assert classifier.sensitive_level("停水") is None
    assert sensitive_level("堵路", SENSITIVE_WORDS) == "medium"
    words = tmp_path / "words.yaml"
    words.write_text("high: [停水]\nlow: [停水, 噪音]\n", encoding="utf-8")
    assert sensitive_level("停水", words) == "high" and sensitive_level("噪音", words) == "low"


def test_places_fill_an_empty_region(classifier):
    from classifier.places import Gazetteer
    from .conftest import REPO_ROOT

    gaz = Gazetteer.load(REPO_ROOT / "config" / "places.yaml")
    assert gaz.find("湖滨街道翠柳苑小区停水三天") == ["锦湖区", "湖滨街道", "翠柳苑小区"]
    assert gaz.find("云台县石桥镇的路灯坏了") == ["云台县", "石桥镇"]
    assert gaz.find("金桂花园物业不作为") == ["金桂花园"]
    assert gaz.find("小区停水三天了没人管") == []
    clf = Classifier(featurizer=classifier.featurizer, topic_codes=classifier.topic_codes,
                     topic_weights=classifier.topic_weights, topic_bias=classifier.topic_bias,
                     thresholds=classifier.thresholds, sentiment_labels=classifier.sentiment_labels,
                     sentiment_weights=classifier.sentiment_weights,
                     sentiment_bias=classifier.sentiment_bias, metadata=classifier.metadata,
                     gazetteer=gaz)
    posts = [_post("湖滨街道翠柳苑小区停水三天了没人管"),
             _post("湖滨街道停水").model_copy(update={"region": ["江宁区"]})]
    out = clf.classify_posts(posts)
    assert out[0].region == ["锦湖区", "湖滨街道", "翠柳苑小区"]
    assert out[1].region == ["江宁区"]  # the crawler's places are kept


def test_save_is_atomic(trained, tmp_path):
    clf = Classifier.load(trained[1], sensitive_words_path=SENSITIVE_WORDS)
    target = tmp_path / "m.joblib"
    clf.save(target)
    assert Classifier.load(target, sensitive_words_path=SENSITIVE_WORDS).version == clf.version
    assert [p.name for p in tmp_path.iterdir()] == ["m.joblib"]  # no temporary file left


@pytest.mark.parametrize("text, sentiment", [
    ("办事窗口的工作人员态度非常好，很满意", "positive"),
    ("办事窗口的工作人员态度很差，很不满意", "negative"),
])
def test_negation_flips_sentiment(classifier, text, sentiment):
    assert classifier.predict_batch([text])[0].sentiment[0] == sentiment


def test_user_dictionary_compounds_carry_their_sentiment_cue():
    """A compound the user dictionary makes one token (噪音扰民) must not hide
    the negative word inside it from the cue features."""
    from classifier.features import load_sentiment_lexicon, sentiment_cues

    lexicon = load_sentiment_lexicon()
    tokens = tokenize("工地晚上十二点还在施工，噪音扰民")
    assert "噪音扰民" in tokens
    assert any(c.startswith("__neg") for c in sentiment_cues(tokens, lexicon))
    for text, word in (("领导干部公款吃喝", "公款吃喝"), ("楼盘烂尾两年了", "烂尾"),
                       ("外卖吃出蟑螂", "蟑螂"), ("工地扬尘太大", "扬尘")):
        tokens = tokenize(text)
        assert word in tokens, text
        assert "__neg__" in sentiment_cues(tokens, lexicon), text


def _reference_features(featurizer, texts, tokens):
    """The straightforward per-token construction (cues from `sentiment_cues`)."""
    import numpy as np
    import scipy.sparse as sp

    from classifier.features import _char_keys, _clean_for_chars, _tfidf

    words = featurizer.word_tokens(tokens)
    rows = [i for i, ws in enumerate(words) for w in ws if w in featurizer.word_vocab]
    cols = [featurizer.word_vocab[w] for ws in words for w in ws if w in featurizer.word_vocab]
    Xw = _tfidf(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), len(texts),
                featurizer.word_idf)
    docs, keys = _char_keys([_clean_for_chars(t) for t in texts])
    pos = np.searchsorted(featurizer.char_keys, keys)
    pos[pos >= featurizer.char_keys.size] = 0
    hit = featurizer.char_keys[pos] == keys
    Xc = _tfidf(docs[hit], pos[hit], len(texts), featurizer.char_idf)
    return sp.hstack([Xw, Xc], format="csr")


def _reference_keywords(classifier, tokens):
    import math

    f = classifier.featurizer
    idf = {t: float(f.word_idf[i]) for t, i in f.word_vocab.items()}
    unseen = float(f.word_idf.max())
    counts = {}
    for t in tokens:
        if len(t) > 1:
            counts[t] = counts.get(t, 0) + 1
    scored = sorted(((-(1.0 + math.log(min(n, 63))) * idf.get(t, unseen), t)
                     for t, n in counts.items()
                     if t not in KEYWORD_STOPWORDS and not t.replace(".", "").isdigit()),
                    key=lambda x: x[0])
    return [t for _, t in scored[:5]]


def test_vectorised_features_and_keywords_match_the_reference(classifier):
    from classifier.tokenizer import tokenize_batch

    texts = [WATER, CANTEEN, "", "x", "不满意，服务非常差，真的不好", "好 好 好 好 停水 停水 12 3.5",
             "感谢民警，没有不满意的地方", "医院挂号排了一上午" * 5]
    tokens = tokenize_batch(texts)
    f = classifier.featurizer
    assert abs(f.transform(texts, tokens) - _reference_features(f, texts, tokens)).max() < 1e-6
    preds = classifier.predict_batch(texts)
    assert [p.keywords for p in preds] == [_reference_keywords(classifier, t) for t in tokens]


def _reference_predictions(classifier, texts):
    """Topics, sentiment, keywords, sensitive words and places, one text at a time.

    Tokens from `tokenize` per text, features from `_reference_features`,
    each linear model on its own, the sensitive words and places scanned
    per text: what `predict_batch` must give, to float rounding.
    """
    import numpy as np

    from classifier.model import PREDICT_MAX_CHARS, _sigmoid, _softmax
    from classifier.tokenizer import normalize

    norms = [normalize(t) for t in texts]
    heads = [t[:PREDICT_MAX_CHARS] for t in norms]
    tokens = [tokenize(t) for t in heads]
    X = _reference_features(classifier.featurizer, heads, tokens)
    topic_p = _sigmoid(np.asarray(X @ classifier.topic_weights) + classifier.topic_bias)
    sent_p = _softmax(np.asarray(X @ classifier.sentiment_weights) + classifier.sentiment_bias)
    out = []
    for i, norm in enumerate(norms):
        passed = [(c, float(topic_p[i, j])) for j, c in enumerate(classifier.topic_codes)
                  if topic_p[i, j] >= classifier.thresholds.get(c, 0.5)]
        passed.sort(key=lambda x: -x[1])
        k = int(np.argmax(sent_p[i]))
        out.append(Prediction(
            topics=passed or [("other", float(1.0 - topic_p[i].max()))],
            sentiment=(classifier.sentiment_labels[k], float(sent_p[i, k])),
            keywords=_reference_keywords(classifier, tokens[i]),
            sensitive_hits=[w for w in classifier.sensitive_levels if w in norm],
            region=classifier.gazetteer.find(norm),
        ))
    return out


def _assert_same_predictions(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert [c for c, _ in g.topics] == [c for c, _ in e.topics]
        assert [s for _, s in g.topics] == pytest.approx([s for _, s in e.topics], abs=1e-6)
        assert g.sentiment[0] == e.sentiment[0]
        assert g.sentiment[1] == pytest.approx(e.sentiment[1], abs=1e-6)
        assert g.keywords == e.keywords
        assert g.sensitive_hits == e.sensitive_hits
        assert g.region == e.region


def _with_places(classifier):
    from classifier.places import Gazetteer
    from .conftest import REPO_ROOT

    return Classifier(featurizer=classifier.featurizer, topic_codes=classifier.topic_codes,
                      topic_weights=classifier.topic_weights, topic_bias=classifier.topic_bias,
                      thresholds=classifier.thresholds, sentiment_labels=classifier.sentiment_labels,
                      sentiment_weights=classifier.sentiment_weights,
                      sentiment_bias=classifier.sentiment_bias, metadata=classifier.metadata,
                      sensitive_levels=classifier.sensitive_levels,
                      gazetteer=Gazetteer.load(REPO_ROOT / "config" / "places.yaml"))


@pytest.mark.parametrize("batch", [1, 7, 500])
def test_predict_batch_equals_the_per_text_reference(classifier, batch):
    from .test_features import varied_texts

    clf = _with_places(classifier)
    texts = varied_texts(400)
    got = [p for s in range(0, len(texts), batch) for p in clf.predict_batch(texts[s:s + batch])]
    expected = _reference_predictions(clf, texts)
    _assert_same_predictions(got, expected)
    assert any(p.region for p in got) and any(p.sensitive_hits for p in got)
    assert sum(p.topics[0][0] != "other" for p in got) > 50


def test_the_fallback_paths_give_the_same_predictions(classifier, monkeypatch):
    """Without the one-cut batch (a backend that does not line up) or the hashed
    token groups (a collision), `predict_batch` takes the per-text token lists."""
    from classifier import model, tables
    from .test_features import varied_texts

    clf = _with_places(classifier)
    texts = varied_texts(150, seed=11)
    expected = _reference_predictions(clf, texts)
    monkeypatch.setattr(model, "cut_batch", lambda texts: None)
    _assert_same_predictions(clf.predict_batch(texts), expected)
    monkeypatch.undo()
    monkeypatch.setattr(tables, "span_hash", lambda cp, s, n: n.astype("uint64") * 0)
    _assert_same_predictions(clf.predict_batch(texts), expected)


def test_two_thread_pipeline_gives_the_same_predictions(classifier, monkeypatch):
    from classifier import model
    from .test_features import varied_texts

    clf = _with_places(classifier)
    texts = varied_texts(300, seed=13)
    expected = _reference_predictions(clf, texts)
    monkeypatch.setattr(model, "PIPELINE_CHUNK", 32)
    clf.threads = 2
    _assert_same_predictions(clf.predict_batch(texts), expected)
    _assert_same_predictions(clf.predict_batch(texts[:70]), expected[:70])  # tail merged


def test_keyword_ranking_without_packed_sort_keys(classifier, monkeypatch):
    """Batches too big for packed int64 sort keys take np.unique and lexsort: same keywords."""
    from classifier import model
    from .test_features import varied_texts

    texts = varied_texts(200, seed=17)
    expected = [p.keywords for p in classifier.predict_batch(texts)]
    monkeypatch.setattr(model, "_PACK_BITS", 0)
    assert [p.keywords for p in classifier.predict_batch(texts)] == expected


def test_keyword_filter_on_code_points_equals_the_string_one(classifier):
    import numpy as np

    from classifier.features import token_keys
    from classifier.model import _keyword_ok
    from classifier.tokenizer import char_flags, codepoints

    tables = classifier.featurizer.fast_tables()
    assert classifier._known_keyword_ok(tables).tolist() == [_keyword_ok(t) for t in tables.strings]
    words = ["12", "1.5", "..", ".5.", "²³", "١٢", "𝟏𝟐", "a", "ab", "我们", "我们的", "什么", "3g",
             "一二", "Ⅻ", "12.", "停水停电了吧"]
    cp = codepoints("".join(words))
    length = np.array([len(w) for w in words])
    start = np.cumsum(length) - length
    ok = classifier._keyword_ok_spans(cp, char_flags(cp), start, length,
                                      token_keys(cp, start, length), words.__getitem__)
    assert ok.tolist() == [_keyword_ok(w) for w in words]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_pipeline_works_in_a_forked_child(classifier):
    """The worker thread does not survive a fork: the child makes its own."""
    import os
    import time

    clf = _with_places(classifier)
    clf.threads = 2
    texts = ["小区停水三天了没人管", CANTEEN] * 300
    expected = [p.topics for p in clf.predict_batch(texts)]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if [p.topics for p in clf.predict_batch(texts)] == expected else 3)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


def test_split_sensitive_words_are_found(classifier):
    texts = ["化工厂爆*炸了！", "强 拆！！半夜来的挖掘机", "工地有人死\u200b亡", "井下发生爆-炸，三人被困",
             "加油站附近爆。炸？", "工厂在 爆 破 作业"]
    hits = [p.sensitive_hits for p in classifier.predict_batch(texts)]
    assert "爆炸" in hits[0] and "强拆" in hits[1] and "死亡" in hits[2] and "爆炸" in hits[3]
    assert "爆炸" not in hits[4]  # sentence punctuation is not a splitter
    assert "爆炸" not in hits[5]
    assert hits == [classifier.predict(t).sensitive_hits for t in texts]


def test_sensitive_matcher_batch_equals_single():
    from classifier.sensitive import SensitiveMatcher

    m = SensitiveMatcher({"爆炸": "high", "强拆": "medium", "a-b": "low", "**": "low"})
    norms = ["爆 炸和强拆", "ab", "a - b", "", "没有", "x\x00爆炸"]
    joined = "\x00".join(norms)
    assert m.find_batch(norms, joined) == [m.find(t) for t in norms]
    assert m.find_batch(norms, joined)[:3] == [["爆炸", "强拆"], ["a-b"], ["a-b"]]
    assert m.find_batch(norms, joined)[5] == ["爆炸"]
    assert SensitiveMatcher({}).find_batch(norms, joined) == [[] for _ in norms]
