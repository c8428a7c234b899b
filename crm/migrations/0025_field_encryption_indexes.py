"""The blind indexes' indexes and the one-number-per-contact constraint, once 0024 has filled
the index columns (before, every phone of a contact had the same empty index)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0024_field_encryption_data"),
    ]

    operations = [
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['name_index'], name='contact_name_index_idx'),
        ),
        migrations.AddIndex(
            model_name='contactphone',
            index=models.Index(fields=['number_index'], name='phone_number_index_idx'),
        ),
        migrations.AddIndex(
            model_name='contactphone',
            index=models.Index(fields=['tail_index'], name='phone_tail_index_idx'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['to_index', '-created_at'], name='message_to_index_idx'),
        ),
        migrations.AddConstraint(
            model_name='contactphone',
            constraint=models.UniqueConstraint(fields=('contact', 'number_index'), name='phone_unique_per_contact'),
        ),
    ]
