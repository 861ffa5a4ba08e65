"""What each role may do, and the ACLs that grant it on the traversal tree.

A tenant's dashboard resource carries an ACL from the user's membership on
that tenant; its agencies' resources above it carry theirs, so Pyramid's
ACL walk up ``__parent__`` gives an agency's role in every client (local
roles). Only the current user's memberships are needed to decide for them.
"""

from pyramid.authorization import Allow

from tracee.accounts.models import ADMIN, OWNER, STAFF, VIEWER

VIEW = "view"  # trackers, templates, branding: read
EDIT_TRACKERS = "edit_trackers"  # create and move trackers
EDIT_SETTINGS = "edit_settings"  # templates and branding
MANAGE_KEYS = "manage_keys"
MANAGE_TEAM = "manage_team"

ROLE_PERMISSIONS = {
    OWNER: (VIEW, EDIT_TRACKERS, EDIT_SETTINGS, MANAGE_KEYS, MANAGE_TEAM),
    ADMIN: (VIEW, EDIT_TRACKERS, EDIT_SETTINGS, MANAGE_KEYS, MANAGE_TEAM),
    STAFF: (VIEW, EDIT_TRACKERS),
    VIEWER: (VIEW,),
}


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def acl_for(user_id: int, role: str | None) -> list:
    if role is None:
        return []
    return [(Allow, user_principal(user_id), ROLE_PERMISSIONS[role])]
