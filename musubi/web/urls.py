from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from musubi.web import capture_pages, catalog_pages, contact_pages, planner_pages, segment_pages, views
from musubi.web.auth_forms import EmailAuthenticationForm, InviteAwarePasswordResetForm

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True,
                                                authentication_form=EmailAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(
        form_class=InviteAwarePasswordResetForm, success_url=reverse_lazy("web:password_reset_done"),
        # Named explicitly: django.contrib.auth ships templates of the same default names, which win.
        subject_template_name="web/email/password_reset_subject.txt",
        email_template_name="web/email/password_reset_body.txt"),
        name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        success_url=reverse_lazy("web:password_reset_complete")), name="password_reset_confirm"),
    path("password-reset/complete/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/", views.account, name="account"),
    path("account/password/", views.PasswordChange.as_view(), name="password_change"),
    path("workspaces/new/", views.new_workspace, name="new_workspace"),
    path("w/<slug:slug>/", views.dashboard, name="dashboard"),
    path("w/<slug:slug>/settings/", views.workspace_settings, name="settings"),
    path("w/<slug:slug>/members/", views.members, name="members"),
    path("w/<slug:slug>/members/<int:membership_id>/role/", views.change_member_role, name="change_member_role"),
    path("w/<slug:slug>/members/<int:membership_id>/remove/", views.remove_member, name="remove_member"),
    path("w/<slug:slug>/api-keys/", views.api_keys, name="api_keys"),
    path("w/<slug:slug>/api-keys/<int:key_id>/revoke/", views.revoke_api_key, name="revoke_api_key"),
    path("w/<slug:slug>/audit/", views.audit_log, name="audit_log"),
    path("w/<slug:slug>/ladder/", catalog_pages.ladder_home, name="ladder"),
    path("w/<slug:slug>/products/new/", catalog_pages.product_new, name="product_new"),
    path("w/<slug:slug>/offers/new/", catalog_pages.offer_new, name="offer_new"),
    path("w/<slug:slug>/offers/<int:offer_id>/", catalog_pages.offer_detail, name="offer"),
    path("w/<slug:slug>/offers/<int:offer_id>/edit/", catalog_pages.offer_edit, name="offer_edit"),
    path("w/<slug:slug>/offers/<int:offer_id>/delete/", catalog_pages.offer_delete, name="offer_delete"),
    path("w/<slug:slug>/products/<int:product_id>/delete/", catalog_pages.product_delete, name="product_delete"),
    path("w/<slug:slug>/ladders/<int:ladder_id>/delete/", catalog_pages.ladder_delete, name="ladder_delete"),
    path("w/<slug:slug>/offers/<int:offer_id>/publish/", catalog_pages.offer_publish, name="offer_publish"),
    path("w/<slug:slug>/offers/<int:offer_id>/unpublish/", catalog_pages.offer_unpublish, name="offer_unpublish"),
    path("w/<slug:slug>/offers/<int:offer_id>/premium/remove/", catalog_pages.premium_remove, name="premium_remove"),
    path("w/<slug:slug>/ladders/new/", catalog_pages.ladder_new, name="ladder_new"),
    path("w/<slug:slug>/ladders/<int:ladder_id>/steps/new/", catalog_pages.step_new, name="step_new"),
    path("w/<slug:slug>/ladders/<int:ladder_id>/steps/<int:step_id>/remove/", catalog_pages.step_remove,
         name="step_remove"),
    path("w/<slug:slug>/sources/", capture_pages.sources, name="sources"),
    path("w/<slug:slug>/links/<int:link_id>/qr.<str:kind>", capture_pages.link_qr, name="link_qr"),
    path("w/<slug:slug>/contacts/", contact_pages.contact_list, name="contacts"),
    path("w/<slug:slug>/contacts/<int:contact_id>/", contact_pages.contact_detail, name="contact"),
    path("w/<slug:slug>/contacts/<int:contact_id>/export/", contact_pages.contact_export, name="contact_export"),
    path("w/<slug:slug>/contacts/<int:contact_id>/erase/", contact_pages.contact_erase, name="contact_erase"),
    path("w/<slug:slug>/segments/", segment_pages.segment_list, name="segments"),
    path("w/<slug:slug>/segments/new/", segment_pages.segment_new, name="segment_new"),
    path("w/<slug:slug>/segments/count/", segment_pages.segment_count, name="segment_count"),
    path("w/<slug:slug>/segments/<int:segment_id>/", segment_pages.segment_detail, name="segment"),
    path("w/<slug:slug>/segments/<int:segment_id>/edit/", segment_pages.segment_edit, name="segment_edit"),
    path("w/<slug:slug>/segments/<int:segment_id>/delete/", segment_pages.segment_delete, name="segment_delete"),
    path("w/<slug:slug>/plans/", planner_pages.plan_list, name="plans"),
    path("w/<slug:slug>/plans/new/", planner_pages.plan_new, name="plan_new"),
    path("w/<slug:slug>/plans/compare/", planner_pages.plan_compare, name="plan_compare"),
    path("w/<slug:slug>/plans/<int:plan_id>/", planner_pages.plan_detail, name="plan"),
    path("w/<slug:slug>/plans/<int:plan_id>/refresh/", planner_pages.plan_refresh, name="plan_refresh"),
    path("w/<slug:slug>/plans/<int:plan_id>/delete/", planner_pages.plan_delete, name="plan_delete"),
]
