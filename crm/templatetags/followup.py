from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def last_day(end):
    """A window's end is exclusive (00:00 after its last day): the instant just before it,
    so that ``|date`` shows the last day itself."""
    return end - timedelta(microseconds=1) if end else end
