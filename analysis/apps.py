from django.apps import AppConfig
from django.conf import settings
from django.db import transaction
from django.db.models.signals import pre_delete


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Videos and analyses"

    def ready(self) -> None:
        from analysis import clip_jobs, jobs
        from core.jobs import register

        # Workers' maintenance and `manage.py queue` recover analyses with every other kind of job.
        register(jobs.ANALYSIS)
        register(clip_jobs.CLIP)
        # A deleted account takes its videos' files with it, not only the rows.
        pre_delete.connect(
            _delete_owner_files, sender=settings.AUTH_USER_MODEL, dispatch_uid="analysis-owner-files"
        )


def _delete_owner_files(sender, instance, **kwargs) -> None:
    from analysis.files import delete_files, video_file_names
    from analysis.models import Video

    names = video_file_names(Video.objects.filter(owner=instance).prefetch_related("analyses", "clips"))
    transaction.on_commit(lambda: delete_files(names))
