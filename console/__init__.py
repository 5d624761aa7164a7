"""The console: a Flask web app for the alert board, search and response cases.

`create_app(test_config=None)` follows Flask's tutorial: configuration from
`yuqing.config.Settings`, one blueprint per feature, extensions bound through
`init_app`. `test_config` may carry, besides Flask keys:

- ``SETTINGS``: a `Settings` to use instead of `get_settings()`;
- ``DATABASE``: a `yuqing.db.Database` to use instead of one on `settings.case_db_url`;
- ``INDEX``: a `SearchIndex` to use instead of `stream.make_index(settings)`;
- ``ROUTING``: a `RoutingTable` to use instead of ``config/routing.yaml``.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from yuqing.config import get_settings
from yuqing.db import Database

from . import filters, security
from .extensions import Stores, csrf, login_manager

_ERRORS = {
    400: ("请求无效", "请求无效或页面已过期，请返回刷新后重试。"),
    403: ("无权访问", "您没有执行此操作的权限。"),
    404: ("页面不存在", "您访问的页面不存在。"),
    405: ("请求方式错误", "不支持此请求方式。"),
    413: ("内容过大", "提交的内容过大。"),
    500: ("系统错误", "系统出现错误，请稍后重试或联系管理员。"),
}


def create_app(test_config: Optional[dict[str, Any]] = None) -> Flask:
    app = Flask(__name__)
    test_config = dict(test_config or {})
    settings = test_config.pop("SETTINGS", None) or get_settings()
    db = test_config.pop("DATABASE", None) or Database(settings.case_db_url)
    index = test_config.pop("INDEX", None)
    routing = test_config.pop("ROUTING", None)

    app.config.from_mapping(
        SECRET_KEY=settings.flask_secret(),
        TIMEZONE=settings.timezone,
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        BOARD_REFRESH_SECONDS=10,
        **security.COOKIE_CONFIG,
    )
    app.config.update(test_config)

    Stores(settings, db, index, routing).init_app(app)
    security.init_app(app)
    filters.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    from .auth.views import bp as auth_bp
    from .board.views import bp as board_bp
    from .cases.views import bp as cases_bp
    from .notices.views import bp as notices_bp
    from .corrections.views import bp as corrections_bp
    from .search.views import bp as search_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(corrections_bp)

    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
    def render(code: int, detail: Optional[str] = None):
        title, message = _ERRORS.get(code, _ERRORS[500])
        return render_template("error.html", code=code, title=title,
                               message=detail or message), code

    @app.errorhandler(CSRFError)
    def _csrf(_exc):
        return render(400, "表单已过期或缺少安全校验，请返回刷新页面后重新提交。")

    for code in _ERRORS:
        app.register_error_handler(code, lambda exc, code=code: render(code))
