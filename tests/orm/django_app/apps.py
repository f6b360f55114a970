from django.apps import AppConfig


class DjangoAppConfig(AppConfig):
    name = "tests.orm.django_app"
    label = "strata_app"
    default_auto_field = "django.db.models.BigAutoField"
