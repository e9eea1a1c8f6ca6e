//! Applications: who is assigned (everyone, directly, through groups), the
//! cascades from groups, users and apps, and paging the assigned users.

use sea_orm::{ConnectionTrait, Statement};
use usher_core::ports::{Applications, Directory};
use usher_core::{ApplicationId, Assignment, GroupId, NewGroup, NewUser, UserId};
use usher_store::Database;

use super::applications::{everyone, groups, named, spec, store, users};
use super::harness::raw;

pub async fn is_assigned_through_everyone_users_and_groups(db: Database) {
    let (store, _, _) = store(&db);
    let alice = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    let bob = store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    let carol = store
        .create_user(NewUser::named("carol"))
        .await
        .expect("user");
    let eng = store
        .create_group(NewGroup::named("eng"))
        .await
        .expect("group");
    let ops = store
        .create_group(NewGroup::named("ops"))
        .await
        .expect("group");
    store.add_member(eng.id, alice.id).await.expect("joins");
    let apps = store
        .sync_config_applications(vec![
            spec("all", None, None, everyone()),
            spec("direct", None, None, users(&[bob.id])),
            spec("by-group", None, None, groups(&[eng.id, ops.id])),
            spec("nobody", None, None, Assignment::default()),
        ])
        .await
        .expect("synced");
    let id = |name: &str| named(&apps, name).id;

    let matrix = [
        ("all", [true, true, true]),
        ("direct", [false, true, false]),
        ("by-group", [true, false, false]),
        ("nobody", [false, false, false]),
    ];
    for (app, expected) in matrix {
        for (user, want) in [alice.id, bob.id, carol.id].into_iter().zip(expected) {
            let got = store.is_assigned(id(app), user).await.expect("q");
            assert_eq!(got, want, "{app} / {user}");
        }
    }
    assert!(
        !store
            .is_assigned(id("all"), UserId::new())
            .await
            .expect("q"),
        "no such user"
    );
    assert!(
        !store
            .is_assigned(ApplicationId::new(), alice.id)
            .await
            .expect("q"),
        "no such app"
    );

    assert_eq!(
        store.applications_of_user(alice.id).await.expect("q"),
        [id("all"), id("by-group")],
        "in name order"
    );
    assert_eq!(
        store.applications_of_user(bob.id).await.expect("q"),
        [id("all"), id("direct")]
    );
    assert_eq!(
        store.applications_of_group(eng.id).await.expect("q"),
        [id("by-group")]
    );
    assert!(
        store
            .applications_of_group(GroupId::new())
            .await
            .expect("q")
            .is_empty()
    );

    // Two groups that give the app: leaving one keeps it, leaving both loses it.
    store.add_member(ops.id, alice.id).await.expect("joins");
    store.remove_member(eng.id, alice.id).await.expect("leaves");
    assert!(
        store
            .is_assigned(id("by-group"), alice.id)
            .await
            .expect("q")
    );
    store.remove_member(ops.id, alice.id).await.expect("leaves");
    assert!(
        !store
            .is_assigned(id("by-group"), alice.id)
            .await
            .expect("q")
    );
    assert_eq!(
        store.applications_of_user(alice.id).await.expect("q"),
        [id("all")]
    );
}

pub async fn assignments_go_with_their_group_user_and_app(db: Database) {
    let (store, _, _) = store(&db);
    let bob = store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    let dan = store
        .create_user(NewUser::named("dan"))
        .await
        .expect("user");
    let eng = store
        .create_group(NewGroup::named("eng"))
        .await
        .expect("group");
    store.add_member(eng.id, dan.id).await.expect("joins");
    let app = store
        .sync_config_applications(vec![spec(
            "wiki",
            None,
            None,
            Assignment {
                everyone: false,
                groups: [eng.id].into(),
                users: [bob.id].into(),
            },
        )])
        .await
        .expect("synced")
        .remove(0);
    assert!(store.is_assigned(app.id, dan.id).await.expect("q"));

    store.delete_group(eng.id).await.expect("group deleted");
    let read = store.get_application(app.id).await.expect("reads");
    assert!(
        read.spec.assignment().groups.is_empty(),
        "the group's row went with it"
    );
    assert_eq!(read.spec.assignment().users, [bob.id].into());
    assert!(!store.is_assigned(app.id, dan.id).await.expect("q"));
    assert!(
        store
            .applications_of_group(eng.id)
            .await
            .expect("q")
            .is_empty()
    );

    store.delete_user(bob.id).await.expect("user deleted");
    let read = store.get_application(app.id).await.expect("reads");
    assert_eq!(read.spec.assignment(), &Assignment::default());

    store
        .sync_config_applications(vec![])
        .await
        .expect("removed");
    let conn = raw(&db).await;
    let left = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM application_assignments",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(left.try_get::<i64>("", "n").expect("count"), 0);
}

pub async fn assigned_users_page_by_id(db: Database) {
    let (store, _, _) = store(&db);
    let mut people = Vec::new();
    for i in 0..7 {
        let user = store
            .create_user(NewUser::named(format!("user{i}")))
            .await
            .expect("user");
        people.push(user.id);
    }
    let team = store
        .create_group(NewGroup::named("team"))
        .await
        .expect("group");
    for &member in [people[1], people[3]].iter() {
        store.add_member(team.id, member).await.expect("joins");
    }
    let apps = store
        .sync_config_applications(vec![
            // people[3] is assigned twice (directly and through the group): listed once.
            spec(
                "some",
                None,
                None,
                Assignment {
                    everyone: false,
                    groups: [team.id].into(),
                    users: [people[3], people[5]].into(),
                },
            ),
            spec("all", None, None, everyone()),
        ])
        .await
        .expect("synced");

    let page_all = async |app: ApplicationId, limit: u32| {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.assigned_users(app, after, limit).await.expect("page");
            assert!(page.len() <= limit as usize);
            let Some(&last) = page.last() else {
                break;
            };
            seen.extend(page);
            after = Some(last);
        }
        seen
    };
    let mut expected = vec![people[1], people[3], people[5]];
    expected.sort();
    assert_eq!(page_all(named(&apps, "some").id, 2).await, expected);
    let mut everybody = people.clone();
    everybody.sort();
    assert_eq!(page_all(named(&apps, "all").id, 3).await, everybody);
    assert_eq!(
        store
            .assigned_users(named(&apps, "all").id, None, 0)
            .await
            .expect("page"),
        everybody,
        "0 is the default page size"
    );
    assert!(
        store
            .assigned_users(ApplicationId::new(), None, 10)
            .await
            .expect("page")
            .is_empty()
    );
}
