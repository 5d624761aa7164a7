import pytest

from alerts.errors import ConfigError
from alerts.routing import RoutingTable


def test_topic_then_place_rules_then_default(routing):
    assert routing.route("food_safety").department == "市市场监督管理局"
    place = routing.route("utilities", "江宁区")
    assert place.department == "江宁区城市管理局" and place.co_departments == ["市城市管理局"]
    assert routing.route("utilities", "秦淮区").department == "市城市管理局"
    assert routing.route(None).department == "市委网信办（新闻中心）"
    assert "市公安局" in routing.departments


def test_bad_routing_file(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text("topics: {education: 教育局}", encoding="utf-8")
    with pytest.raises(ConfigError, match="default"):
        RoutingTable.load(path)
