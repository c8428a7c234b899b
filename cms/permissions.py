"""What each role may do in the Wagtail admin of its clinic (cms.services.editor_permissions_sync
applies it). Data only: the release compares it with what each clinic was last given."""

from crm.roles import Role

# Wagtail permissions per role. Only administrators edit and publish the patient site and its
# images and documents; the other roles have no access to the Wagtail admin at all.
PAGE_PERMISSIONS: dict[str, list[str]] = {
    Role.ADMIN: [
        "wagtailcore.add_page",
        "wagtailcore.change_page",
        "wagtailcore.publish_page",
        "wagtailcore.bulk_delete_page",
        "wagtailcore.lock_page",
        "wagtailcore.unlock_page",
    ],
}
COLLECTION_PERMISSIONS: dict[str, list[str]] = {
    Role.ADMIN: [
        "wagtailimages.add_image",
        "wagtailimages.change_image",
        "wagtailimages.choose_image",
        "wagtailimages.delete_image",
        "wagtaildocs.add_document",
        "wagtaildocs.change_document",
        "wagtaildocs.choose_document",
        "wagtaildocs.delete_document",
    ],
}
