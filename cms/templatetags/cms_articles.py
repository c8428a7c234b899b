"""The articles of a follow-up on the agent's call page, each with a link to copy and send."""

from django import template

from ..selectors import articles_for_task

register = template.Library()


@register.inclusion_tag("cms/task_articles.html")
def task_articles(task):
    return {"items": articles_for_task(task)}
