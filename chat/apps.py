from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from analysis.jobs import analysis_finished
        from chat import jobs
        from core.jobs import register

        # Chat hears of finished analyses through the pipeline's signal; analysis never imports chat.
        analysis_finished.connect(jobs.on_analysis_finished, dispatch_uid="chat-analysis-finished")
        # Workers' maintenance and `manage.py queue` recover replies with every other kind of job.
        register(jobs.REPLY)
