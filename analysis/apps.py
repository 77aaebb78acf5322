from django.apps import AppConfig
from django.conf import settings
from django.db import transaction
from django.db.models.signals import pre_delete


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Videos and analyses"

    def ready(self) -> None:
        from videochat.worker import worker_maintenance

        # Workers look for lost analyses on start-up and every minute.
        worker_maintenance.connect(_recover, dispatch_uid="analysis-recover-lost")
        # A deleted account takes its videos' files with it, not only the rows.
        pre_delete.connect(
            _delete_owner_files, sender=settings.AUTH_USER_MODEL, dispatch_uid="analysis-owner-files"
        )


def _recover(sender, **kwargs) -> int:
    from analysis.jobs import recover_lost

    return len(recover_lost())


def _delete_owner_files(sender, instance, **kwargs) -> None:
    from analysis.files import delete_files, video_file_names
    from analysis.models import Video

    names = video_file_names(Video.objects.filter(owner=instance).prefetch_related("analyses"))
    transaction.on_commit(lambda: delete_files(names))
