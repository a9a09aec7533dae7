from django.urls import path

from .pages import confirm_email_page

urlpatterns = [
    path("account/confirm/<str:token>/", confirm_email_page, name="confirm-email"),
]
