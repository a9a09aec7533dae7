"""The monitoring pages for staff: the Grafana dashboards drawn in the app, and the runbooks."""

from django.urls import include, path

from monitoring import views
from monitoring.runbooks import runbooks_page

# The namespace of the URLs /dashboards/... (dashboards:list, ...), unchanged by the app's name.
dashboards = (
    [
        path("", views.dashboard_list, name="list"),
        path("<slug:uid>/", views.dashboard_page, name="dashboard"),
        path("<slug:uid>/panels/<int:panel_id>/", views.panel_data_view, name="panel-data"),
    ],
    "dashboards",
)
urlpatterns = [
    path("dashboards/", include(dashboards)),
    path("runbooks/", runbooks_page, name="runbooks"),
]
