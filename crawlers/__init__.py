"""Crawlers: Scrapy spiders and feed readers that publish Post records to `posts.raw`.

Flow: a source YAML (`crawlers.sources`) → a spider (`crawlers.spiders.site` or
`.feed`) yields post items → pipelines clean, dedupe, validate and publish
(`crawlers.pipelines`) → the bus. `crawlers.runner` runs one source per process.
"""
