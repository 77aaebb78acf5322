from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from analysis.jobs import analysis_finished
        from chat import jobs
        from videochat.worker import worker_maintenance

        # Chat hears of finished analyses through the pipeline's signal; analysis never imports chat.
        analysis_finished.connect(jobs.on_analysis_finished, dispatch_uid="chat-analysis-finished")
        worker_maintenance.connect(jobs.on_worker_maintenance, dispatch_uid="chat-recover-replies")
