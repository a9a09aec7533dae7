"""The in-app dashboards: the list, one dashboard, and one panel's data."""

from django.urls import path

from monitoring import views

# The namespace of the URLs /dashboards/... (dashboards:list, ...), unchanged by the app's name.
app_name = "dashboards"
urlpatterns = [
    path("", views.dashboard_list, name="list"),
    path("<slug:uid>/", views.dashboard_page, name="dashboard"),
    path("<slug:uid>/panels/<int:panel_id>/", views.panel_data_view, name="panel-data"),
]
