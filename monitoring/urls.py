"""The monitoring pages for staff: the Grafana dashboards drawn in the app, the traces read from
Jaeger, and the runbooks."""

from django.urls import include, path

from monitoring import views
from monitoring.runbooks import runbooks_page
from monitoring.traces import views as trace_views

# The namespace of the URLs /dashboards/... (dashboards:list, ...), unchanged by the app's name.
dashboards = (
    [
        path("", views.dashboard_list, name="list"),
        path("<slug:uid>/", views.dashboard_page, name="dashboard"),
        path("<slug:uid>/panels/<int:panel_id>/", views.panel_data_view, name="panel-data"),
    ],
    "dashboards",
)
# /traces/...: traces:search, traces:trace (monitoring.traces, read from Jaeger).
traces = (
    [
        path("", trace_views.trace_search, name="search"),
        path("<str:trace_id>/", trace_views.trace_page, name="trace"),
    ],
    "traces",
)
urlpatterns = [
    path("dashboards/", include(dashboards)),
    path("traces/", include(traces)),
    path("runbooks/", runbooks_page, name="runbooks"),
]
