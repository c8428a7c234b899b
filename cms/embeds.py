"""Video embeds that need no third-party request: bilibili (the usual host for Chinese
clinics) and links to video files. Other providers go through Wagtail's oEmbed finder; an
embed that cannot be found renders as nothing rather than breaking the page."""

import re
from urllib.parse import urlparse

from django.utils.html import format_html
from wagtail.embeds.finders.base import EmbedFinder

BILIBILI = re.compile(r"^https?://(?:www\.|m\.)?bilibili\.com/video/(BV[0-9A-Za-z]{10})")
VIDEO_FILE = re.compile(r"\.(mp4|webm|ogg)$", re.IGNORECASE)


class BilibiliFinder(EmbedFinder):
    def __init__(self, **options):
        pass

    def accept(self, url):
        return bool(BILIBILI.match(url or ""))

    def find_embed(self, url, max_width=None, max_height=None):
        bvid = BILIBILI.match(url).group(1)
        html = format_html(
            '<iframe src="https://player.bilibili.com/player.html?bvid={}&autoplay=0" '
            'width="640" height="360" allowfullscreen loading="lazy" '
            'sandbox="allow-scripts allow-same-origin allow-popups" '
            'referrerpolicy="no-referrer" title="bilibili"></iframe>',
            bvid,
        )
        return {
            "title": "",
            "author_name": "",
            "provider_name": "bilibili",
            "type": "video",
            "thumbnail_url": None,
            "width": 640,
            "height": 360,
            "html": str(html),
        }


class VideoFileFinder(EmbedFinder):
    def __init__(self, **options):
        pass

    def accept(self, url):
        parsed = urlparse(url or "")
        return parsed.scheme in ("http", "https") and bool(VIDEO_FILE.search(parsed.path))

    def find_embed(self, url, max_width=None, max_height=None):
        html = format_html(
            '<video controls preload="metadata" playsinline src="{}" width="640"></video>', url
        )
        return {
            "title": "",
            "author_name": "",
            "provider_name": "",
            "type": "video",
            "thumbnail_url": None,
            "width": 640,
            "height": 360,
            "html": str(html),
        }
