"""Scrapy settings shared by every profile; used as-is by tests and the demo (no delays)."""

BOT_NAME = "yuqing"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = "yuqing-crawler/0.1 (public-opinion monitoring; local news center)"
ROBOTSTXT_OBEY = False
DOWNLOAD_DELAY = 0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 15
RETRY_ENABLED = True
RETRY_TIMES = 1
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
# duplicates are normal on every re-crawl; the stats count them
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"

ITEM_PIPELINES = {
    "crawlers.pipelines.CleanPipeline": 100,
    "crawlers.pipelines.DedupePipeline": 200,
    "crawlers.pipelines.ValidatePipeline": 300,
    "crawlers.pipelines.PublishPipeline": 400,
}
#: Publish flushes the bus (and marks posts seen) every this many posts.
YUQING_PUBLISH_BATCH = 50
